using System.Collections.Concurrent;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Tests;

/// <summary>Stands in for the pipeline: answers a canned snapshot, records each command, and can refuse or stall.</summary>
internal sealed class FakePipelineControl : IPipelineControl
{
    public PipelineStatus Status { get; set; } = Sample("a");

    public ConcurrentQueue<(string Verb, PartitionSelector Selector, PauseReasons? Reason)> Calls { get; } = new();

    /// <summary>Thrown by every command when set (e.g. <see cref="PipelineNotRunningException"/>).</summary>
    public Exception? Refusal { get; set; }

    public TimeSpan FlushDelay { get; set; }

    public bool FlushWasCancelled { get; private set; }

    public static PipelineStatus Sample(string region) => new(
        region, $"ingest.{region}", PipelineState.Running, null, DateTimeOffset.UtcNow,
        [new RouteStatus("events", ["events", "clicks"], "db.events", "ch", null)],
        [
            new PartitionStatus("events", 0, "events", "db.events", 120, 100, 150, 50, [], 1, 20, 2048),
            new PartitionStatus("events", 1, "events", "db.events", 42, 42, 42, 0, ["operator"], 0, 0, 0),
            new PartitionStatus("clicks", 0, "events", "db.events", null, null, null, null, ["backup", "operator"], 0, 0, 0),
        ],
        [new TargetStatus("ch", [new EndpointStatus("http://ch:8123/", true, null, DateTimeOffset.UtcNow)], false)],
        [new PauseRule(new PartitionSelector("events", [1]), "operator")]);

    public Task<PauseResult> PauseAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => Command("pause", selector, reason);

    public Task<PauseResult> ResumeAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => Command("resume", selector, reason);

    public async Task<FlushResult> FlushAsync(PartitionSelector selector, CancellationToken ct)
    {
        Calls.Enqueue(("flush", selector, null));
        if (Refusal is not null) throw Refusal;
        try
        {
            await Task.Delay(FlushDelay, ct);
        }
        catch (OperationCanceledException)
        {
            FlushWasCancelled = true;
            throw;
        }
        return new FlushResult(Status.Region, Status.Group,
            Matching(selector).Select(p => new PartitionPosition(p.Topic, p.Partition, p.Table, p.Position ?? 0)).ToList());
    }

    private Task<PauseResult> Command(string verb, PartitionSelector selector, PauseReasons reason)
    {
        Calls.Enqueue((verb, selector, reason));
        if (Refusal is not null) throw Refusal;
        return Task.FromResult(new PauseResult(reason.Name(), selector, Matching(selector).ToList()));
    }

    private IEnumerable<PartitionStatus> Matching(PartitionSelector selector) => Status.Partitions.Where(p => selector.Matches(p.Topic, p.Partition));
}

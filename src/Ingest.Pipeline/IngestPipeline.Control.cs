using Confluent.Kafka;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>Commands from other threads (<see cref="IPipelineControl"/>), each run on the pipeline thread.</summary>
public sealed partial class IngestPipeline
{
    /// <summary>A flush waiting for the partitions' committed offsets to reach what had been consumed when it came.</summary>
    private sealed record PendingFlush(PartitionSelector Selector, Dictionary<TopicPartition, long> Targets, TaskCompletionSource<FlushResult> Done);

    public Task<PauseResult> PauseAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct)
    {
        Check(selector);
        if ((reason & (PauseReasons.Backpressure | PauseReasons.TargetReadOnly | PauseReasons.TargetFailed | PauseReasons.NotOwned)) != 0)
            throw new ArgumentException($"'{reason.Name()}' is set by the pipeline itself; it cannot be set by a command", nameof(reason));
        return _commands.Post<PauseResult>(done =>
        {
            var matched = _source!.Add(selector, reason);
            _logger.LogInformation("Paused {Selector} ({Reason}): {Count} partitions assigned here", selector, reason.Name(), matched.Count);
            done.TrySetResult(PauseAnswer(selector, reason, matched));
        }, ct);
    }

    public Task<PauseResult> ResumeAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct)
    {
        Check(selector);
        if ((reason & (PauseReasons.Backpressure | PauseReasons.TargetReadOnly | PauseReasons.NotOwned)) != 0)
            throw new ArgumentException($"'{reason.Name()}' is lifted by the pipeline itself; it cannot be lifted by a command", nameof(reason));
        return _commands.Post<PauseResult>(done =>
        {
            if (reason.HasFlag(PauseReasons.TargetFailed))
            {
                foreach (var route in _routes.Where(r => r.Error is not null && (selector.Topic is null || r.Takes(selector.Topic))))
                {
                    // The table may have been recreated with other columns; reading them fails here, with the route still
                    // failed, if it is still not there.
                    if (route.Schema?.Reload(_stopping) == true) route.SchemaChanged();
                    _logger.LogInformation("Route {Route} into {Table} resumed by an operator (was: {Error})", route.Name, route.Target.Table, route.Error);
                    route.Error = null;
                }
            }
            var matched = _source!.Remove(selector, reason);
            _logger.LogInformation("Resumed {Selector} ({Reason}): {Count} partitions assigned here", selector, reason.Name(), matched.Count);
            done.TrySetResult(PauseAnswer(selector, reason, matched));
        }, ct);
    }

    public Task<FlushResult> FlushAsync(PartitionSelector selector, CancellationToken ct)
    {
        Check(selector);
        return _commands.Post<FlushResult>(done =>
        {
            var targets = new Dictionary<TopicPartition, long>();
            foreach (var p in _source!.Assigned.Where(p => selector.Matches(p.Topic, p.Partition.Value)))
            {
                if (_source.Position(p) is { } position) targets[p] = position;
            }
            _batches.SealWhere(b => targets.ContainsKey(b.Partition));
            _flushes.Add(new PendingFlush(selector, targets, done));
            CompleteFlushes();
        }, ct);
    }

    /// <summary>Answers the flushes whose partitions are all committed up to their targets (after writing the committed
    /// checkpoints); partitions that left meanwhile were flushed by their revoke, or are another worker's now.</summary>
    private void CompleteFlushes()
    {
        for (var i = 0; i < _flushes.Count; i++)
        {
            var flush = _flushes[i];
            foreach (var gone in flush.Targets.Keys.Where(p => !_source!.IsAssigned(p)).ToList()) flush.Targets.Remove(gone);
            var failed = _routes.FirstOrDefault(r => r.Error is not null && flush.Targets.Keys.Any(p => r.Takes(p.Topic)));
            if (failed is not null)
                flush.Done.TrySetException(new InvalidOperationException($"Route {failed.Name} into {failed.Target.Table} failed, so its partitions cannot be flushed: {failed.Error}"));
            else if (flush.Targets.All(t => _source!.Committed(t.Key) >= t.Value))
                Answer(flush);
            else
                continue;
            _flushes.RemoveAt(i--);
        }
    }

    /// <summary>Everything the flush waited for is committed to Kafka; its committed checkpoints are written before the
    /// answer, so a backup taken after it holds them.</summary>
    private void Answer(PendingFlush flush)
    {
        foreach (var route in _routes) route.Checkpoints?.WriteCommitted(wait: true, _maxAgeMs, _stopping);
        flush.Done.TrySetResult(new FlushResult(_options.Region, GroupId, [.. _source!.Assigned
            .Where(p => flush.Selector.Matches(p.Topic, p.Partition.Value) && _source.Committed(p) is not null)
            .OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition.Value)
            .Select(p => new PartitionPosition(p.Topic, p.Partition.Value, RouteOf(p.Topic).Target.Table, _source.Committed(p)!.Value))]));
    }

    private PauseResult PauseAnswer(PartitionSelector selector, PauseReasons reason, IReadOnlyList<TopicPartition> matched)
    {
        Publish();
        return new PauseResult(reason.Name(), selector, [.. matched.Select(PartitionStatusOf)]);
    }

    private static void Check(PartitionSelector selector)
    {
        if (selector.Problem() is { } problem) throw new ArgumentException($"Bad partition selector ({selector}): {problem}", nameof(selector));
    }
}

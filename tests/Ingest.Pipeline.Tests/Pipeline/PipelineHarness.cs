using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Delivery;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Tests.Pipeline;

/// <summary>The real pipeline state machine on its own thread, with fakes for Kafka, the table and the checkpoint
/// store: no server, and every effect observable.</summary>
internal sealed class PipelineHarness : IDisposable
{
    public const string Topic = "events";

    /// <summary>The second route's topic (with <c>secondRoute</c>): into db.clicks.</summary>
    public const string Clicks = "clicks";

    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;

    public PipelineHarness(Action<IngestOptions>? configure = null, bool checkpoints = true, bool secondRoute = false)
    {
        Options = new IngestOptions
        {
            Region = "a",
            Kafka = { BootstrapServers = "fake:9092", Topics = [Topic] },
            ClickHouse = { Endpoints = ["http://fake:8123/"], Table = "db.events", Format = InsertFormat.JSONEachRow, MaxConcurrentInserts = 2 },
            Batching = { MaxAge = TimeSpan.FromMilliseconds(20) },
        };
        configure?.Invoke(Options);
        Consumer = new FakeConsumer(Kafka);
        Ledger = checkpoints ? new CheckpointLedger(Store, new ReplayIdentity(false, "ingest.a", Target.Table), NullLogger.Instance) : null;
        Route = new Route(0, "events", [Topic], Target, schema: null, Ledger);
        ClicksRoute = new Route(1, "clicks", [Clicks], ClicksTarget, schema: null,
            checkpoints ? new CheckpointLedger(Store, new ReplayIdentity(false, "ingest.a", ClicksTarget.Table), NullLogger.Instance) : null);
        RangeReader = new FakeRangeReader(Kafka);
        Pipeline = new IngestPipeline(Options, NullLogger.Instance, Metrics, secondRoute ? [Route, ClicksRoute] : [Route], _ => Consumer, _ => RangeReader);
    }

    public IngestOptions Options { get; }

    public FakeKafka Kafka { get; } = new();

    public FakeConsumer Consumer { get; }

    public FakeTarget Target { get; } = new();

    public FakeCheckpointStore Store { get; } = new();

    public FakeTarget ClicksTarget { get; } = new("db.clicks");

    public Route ClicksRoute { get; }

    public FakeRangeReader RangeReader { get; }

    public CheckpointLedger? Ledger { get; }

    public Route Route { get; }

    public IngestMetrics Metrics { get; } = new();

    public IngestPipeline Pipeline { get; }

    public Exception? Error { get; private set; }

    public static TopicPartition P(int partition) => new(Topic, partition);

    public static TopicPartition C(int partition) => new(Clicks, partition);

    public PipelineHarness Start()
    {
        _thread = new Thread(() =>
        {
            try
            {
                Pipeline.Run(_stop.Token);
            }
            catch (Exception e)
            {
                Error = e;
            }
        }) { IsBackground = true, Name = "pipeline-under-test" };
        _thread.Start();
        return this;
    }

    /// <summary>Graceful stop; rethrows what the pipeline failed with.</summary>
    public void Stop()
    {
        _stop.Cancel();
        if (!_thread!.Join(TimeSpan.FromSeconds(30))) throw new TimeoutException("the pipeline did not stop in 30 s");
        if (Error is not null) throw new InvalidOperationException("the pipeline failed", Error);
    }

    /// <summary>Waits (polling, 10 s at most) until <paramref name="condition"/> holds; fails the test naming
    /// <paramref name="what"/> otherwise.</summary>
    public static void Eventually(Func<bool> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline) Assert.Fail($"timed out waiting for: {what}");
            Thread.Sleep(5);
        }
    }

    public bool Joined(TimeSpan timeout) => _thread!.Join(timeout);

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // A test that failed while INSERTs were held must not hold its clean-up too.
        try
        {
            Target.Gate?.Release(1000);
            ClicksTarget.Gate?.Release(1000);
        }
        catch (ObjectDisposedException)
        {
        }
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(30));
        Pipeline.Dispose();
        ClicksRoute.Dispose();
        _stop.Dispose();
    }
}

using Ingest.Pipeline;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>The pipeline on its own thread inside the test process, for tests that look at its metrics.</summary>
internal sealed class InProcessPipeline : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly IngestPipeline _pipeline;
    private bool _disposed;

    public InProcessPipeline(IngestOptions options)
    {
        _pipeline = new IngestPipeline(options, NullLogger.Instance, Metrics);
        _thread = new Thread(() =>
        {
            try
            {
                _pipeline.Run(_stop.Token);
            }
            catch (Exception e)
            {
                Error = e;
            }
        })
        { IsBackground = true, Name = "test-pipeline" };
        _thread.Start();
    }

    public IngestMetrics Metrics { get; } = new();

    /// <summary>The pipeline's control surface (status snapshot, pause, resume, flush).</summary>
    public Pipeline.Control.IPipelineControl Control => _pipeline;

    public Exception? Error { get; private set; }

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Graceful stop: final flush and commit; rethrows what the pipeline failed with.</summary>
    public void Stop()
    {
        _stop.Cancel();
        if (!_thread.Join(TimeSpan.FromSeconds(60))) throw new TimeoutException("pipeline did not stop in 60 s");
        if (Error is not null) throw new InvalidOperationException("pipeline failed", Error);
    }

    /// <summary>Idempotent: a test that disposes the pipeline mid-way and again in its finally must fail with what went
    /// wrong in between, not with a disposed token source.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(60));
        _pipeline.Dispose();
        _stop.Dispose();
    }
}

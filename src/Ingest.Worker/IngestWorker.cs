using Ingest.Pipeline;
using Ingest.Pipeline.Metrics;

namespace Ingest.Worker;

/// <summary>Runs the pipeline on a dedicated thread (librdkafka's Consume blocks, and rebalance callbacks flush
/// on it). A pipeline failure stops the host with a non-zero exit code: nothing unacknowledged was committed,
/// so a restart replays it.</summary>
internal sealed class IngestWorker(IngestOptions options, IngestMetrics metrics, ILogger<IngestWorker> logger, IHostApplicationLifetime lifetime)
    : BackgroundService
{
    private IngestPipeline? _pipeline;

    public bool IsReady => _pipeline?.IsAssigned == true;

    public bool IsFaulted => Fault is not null;

    public string? Fault { get; private set; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() =>
        {
            try
            {
                using var pipeline = new IngestPipeline(options, logger, metrics);
                _pipeline = pipeline;
                pipeline.Run(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                Fault = e.Message;
                logger.LogCritical(e, "Ingest pipeline failed; stopping");
                Environment.ExitCode = 1;
                lifetime.StopApplication();
            }
        }, stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}

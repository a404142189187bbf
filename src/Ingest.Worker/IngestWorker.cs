using Ingest.Pipeline;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Metrics;

namespace Ingest.Worker;

/// <summary>Runs the pipeline on a dedicated thread (librdkafka's Consume blocks, and rebalance callbacks flush
/// on it). A pipeline failure stops the host with a non-zero exit code: nothing unacknowledged was committed,
/// so a restart replays it. Also the host's <see cref="IPipelineControl"/>: admin endpoints and health checks
/// talk to it whether or not the pipeline has started yet.</summary>
internal sealed class IngestWorker(IngestOptions options, IngestMetrics metrics, ILogger<IngestWorker> logger, IHostApplicationLifetime lifetime)
    : BackgroundService, IPipelineControl
{
    private volatile IngestPipeline? _pipeline;
    private volatile PipelineStatus? _final;

    public PipelineStatus Status =>
        _final ?? _pipeline?.Status ?? PipelineStatus.Starting(options.Region, $"{options.Kafka.Group}.{options.Region}");

    public Task<PauseResult> PauseAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => Running.PauseAsync(selector, reason, ct);

    public Task<PauseResult> ResumeAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => Running.ResumeAsync(selector, reason, ct);

    public Task<FlushResult> FlushAsync(PartitionSelector selector, CancellationToken ct) => Running.FlushAsync(selector, ct);

    private IngestPipeline Running => _pipeline ?? throw new PipelineNotRunningException(Status.State);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() =>
        {
            try
            {
                using var pipeline = new IngestPipeline(options, logger, metrics);
                _pipeline = pipeline;
                pipeline.Run(stoppingToken);
                _final = pipeline.Status;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                _final = Status with { State = PipelineState.Failed, Fault = e.Message, At = DateTimeOffset.UtcNow };
                logger.LogCritical(e, "Ingest pipeline failed; stopping");
                Environment.ExitCode = 1;
                lifetime.StopApplication();
            }
            finally
            {
                _pipeline = null;
            }
        }, stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}

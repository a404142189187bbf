using Ingest.Pipeline.Control;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ingest.Worker.Observability;

/// <summary>/health/live: 503 once the pipeline failed (the answer names the fault), so a supervisor restarts the worker;
/// /health/ready: 200 while partitions are assigned and consumed, so traffic and rollouts wait for the group. Both read
/// the worker's status snapshot; each path runs only the checks with its tag. A failed route or a read-only target makes readiness Degraded
/// (still 200: the other routes are served; the body names the failed table).</summary>
internal static class HealthEndpoints
{
    private const string Live = "live";
    private const string Ready = "ready";

    public static IServiceCollection AddHealthEndpoints(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<PipelineAliveCheck>("pipeline", tags: [Live])
            .AddCheck<PartitionsAssignedCheck>("partitions", tags: [Ready])
            .AddCheck<RoutesCheck>("routes", tags: [Ready]);
        return services;
    }

    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", Only(Live));
        app.MapHealthChecks("/health/ready", Only(Ready));
    }

    private static HealthCheckOptions Only(string tag) => new() { Predicate = check => check.Tags.Contains(tag), ResponseWriter = WriteTextAsync };

    /// <summary>"Healthy: Running" / "Unhealthy: pipeline failed: ..." (the default writer says only the status).</summary>
    private static Task WriteTextAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var details = string.Join("; ", report.Entries.Values.Select(e => e.Description).Where(d => !string.IsNullOrEmpty(d)));
        return context.Response.WriteAsync($"{report.Status}: {details}\n");
    }

    private sealed class PipelineAliveCheck(IngestWorker worker) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var status = worker.Status;
            return Task.FromResult(status.State == PipelineState.Failed
                ? HealthCheckResult.Unhealthy($"pipeline failed: {status.Fault}")
                : HealthCheckResult.Healthy(status.State.ToString()));
        }
    }

    private sealed class PartitionsAssignedCheck(IngestWorker worker) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var status = worker.Status;
            return Task.FromResult(status.IsReady
                ? HealthCheckResult.Healthy(status.State.ToString())
                : HealthCheckResult.Unhealthy($"{status.State}: not consuming (no partitions assigned yet, or stopped)"));
        }
    }

    private sealed class RoutesCheck(IngestWorker worker) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var status = worker.Status;
            List<string> waiting =
            [
                .. status.Routes.Where(r => r.Error is not null).Select(r => $"route {r.Name} into {r.Table} waits (target-failed): {r.Error}"),
                // Read-only goes away by itself once the Keeper answers; still worth seeing while it lasts.
                .. status.Targets.Where(t => t.ReadOnly).Select(t => $"target {t.Name} is read-only (its Keeper is lost or hung); its partitions wait (target-read-only) and retry"),
            ];
            return Task.FromResult(waiting.Count == 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Degraded(string.Join("; ", waiting)));
        }
    }
}

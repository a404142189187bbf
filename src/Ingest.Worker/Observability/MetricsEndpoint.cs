using Ingest.Pipeline.Metrics;
using Prometheus;

namespace Ingest.Worker.Observability;

/// <summary>GET /metrics: the pipeline's meter (through <see cref="PrometheusMeterBridge"/>) and prometheus-net's process
/// metrics, in a registry of this host's own, every series labelled with the worker's region. Nothing else: the
/// runtime's System.Runtime meter and EventCounters are not exported (through prometheus-net's adapters their
/// <c>system_runtime_*_count</c> gauges fail <c>promtool check metrics</c>), nor prometheus-net's debug metrics.</summary>
internal static class MetricsEndpoint
{
    public static IServiceCollection AddMetricsExport(this IServiceCollection services, string region)
    {
        services.AddSingleton(_ =>
        {
            var registry = Prometheus.Metrics.NewCustomRegistry();
            // Static labels can only be set before the first metric is created in the registry.
            registry.SetStaticLabels(new Dictionary<string, string> { ["region"] = region });
            DotNetStats.Register(registry);
            return registry;
        });
        services.AddSingleton<PrometheusMeterBridge>();
        return services;
    }

    /// <summary>Starts the bridge before the pipeline can record (a MeterListener sees no measurement made before it
    /// listened), and backs the status gauges with the worker's snapshot.</summary>
    public static IEndpointConventionBuilder MapMetricsExport(this WebApplication app)
    {
        var worker = app.Services.GetRequiredService<IngestWorker>();
        app.Services.GetRequiredService<IngestMetrics>().ObserveStatus(() => worker.Status);
        app.Services.GetRequiredService<PrometheusMeterBridge>();
        var registry = app.Services.GetRequiredService<CollectorRegistry>();
        return app.MapMetrics(settings => settings.Registry = registry);
    }
}

using Prometheus;

namespace Ingest.Worker.Observability;

/// <summary>GET /metrics: the pipeline's meter (through <see cref="PrometheusMeterBridge"/>) and prometheus-net's process
/// metrics (process_*, dotnet_*), in a registry of this host's own, every series labelled with the worker's region.
/// Nothing else: prometheus-net's default registry, tried in this worker, fails <c>promtool check metrics</c> (exit 3)
/// on the System.Runtime meter's gauges named <c>*_count</c> (system_runtime_dotnet_timer_count, ..._assembly_count,
/// ...) and on its own debug gauge prometheus_net_eventcounteradapter_sources_connected_total, and exports meter
/// "Ingest" again as ingest_ingest_* gauges; so its meter and EventCounter adapters and debug metrics stay off.</summary>
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

    /// <summary>Starts the bridge before the pipeline can record: a MeterListener sees no measurement made before it
    /// listened. (The pipeline backs the status gauges with its own snapshot.)</summary>
    public static IEndpointConventionBuilder MapMetricsExport(this WebApplication app)
    {
        app.Services.GetRequiredService<PrometheusMeterBridge>();
        var registry = app.Services.GetRequiredService<CollectorRegistry>();
        return app.MapMetrics(settings => settings.Registry = registry);
    }
}

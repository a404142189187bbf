using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Metrics;
using Ingest.Pipeline.Regions;
using Ingest.Pipeline.Targets;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Delivery;

/// <summary>Start-up, a step of its own before consuming: for each route, the table's columns, the checkpoint table on
/// every endpoint, how replays are identified on this server, and what delivery guarantee all that gives (logged and
/// exported). Its product, the routes, is what the pipeline runs with.</summary>
internal static class RoutePreparation
{
    public static async Task<Route> PrepareAsync(int index, IngestOptions options, RouteOptions route, ILogger logger, IngestMetrics metrics, CancellationToken stopping)
    {
        var targetOptions = options.TargetOf(route);
        var subclusters = targetOptions is { IsTwoSubcluster: true } ? new SubclusterTarget(options, route, targetOptions) : null;
        var quorum = subclusters is null ? null : new QuorumPolicy(targetOptions!.Quorum, route.Table, logger);
        var clickHouse = options.ClickHouse.ForRoute(route, subclusters?.HomeEndpoints ?? targetOptions?.Endpoints);
        var target = new ClickHouseTarget(clickHouse, logger, metrics, quorum);
        try
        {
            var table = route.Table;
            SchemaTracker? schema = null;
            if (clickHouse.Format == InsertFormat.Native)
                schema = new SchemaTracker(target, await target.LoadSchemaAsync(stopping).ConfigureAwait(false), route.Mapping ?? options.Mapping, clickHouse.SchemaRefreshInterval, logger, metrics);

            var engine = await target.ReadEngineAsync(stopping).ConfigureAwait(false);
            CheckpointLedger? ledger = null;
            if (options.Checkpoints.Enabled)
            {
                var checkpointTable = options.Checkpoints.Table ?? $"{ClickHouseText.SplitTable(table).Database}.ingest_checkpoints";
                var store = new CheckpointStore(target, checkpointTable, ConsumerSettings.GroupId(options));
                var replicated = engine.Engine.StartsWith("Replicated", StringComparison.Ordinal);
                foreach (var failure in await store.EnsureAsync(options.Checkpoints.Engine, replicated, stopping).ConfigureAwait(false))
                    logger.LogWarning("Checkpoint table {Table} not created on {Failure}; create it there before failing over to it", checkpointTable, failure);
                var identity = new ReplayIdentity(await ReplayIdentity.ServerHasTokensAsync(target, stopping).ConfigureAwait(false), ConsumerSettings.GroupId(options), table);
                foreach (var name in ReplayIdentity.ControlledSettings.Where(clickHouse.Settings.ContainsKey))
                    logger.LogWarning("Setting {Setting} of {Table} is ignored: with checkpoints on, Ingest sets it itself (docs/exactly-once.md)", name, table);
                ledger = new CheckpointLedger(store, identity, logger);
            }
            var guarantee = await DeliveryGuarantee.ReadAsync(target, engine, ledger is not null, ledger?.Identity.UsesTokens == true,
                schema?.Decoder.FillsOffset == true, stopping).ConfigureAwait(false);
            metrics.SetExactlyOnce(table, guarantee.ExactlyOnce);
            logger.Log(guarantee.ExactlyOnce ? LogLevel.Information : LogLevel.Warning, "Delivery into {Table}: {Guarantee}", table, guarantee.Description);
            foreach (var warning in guarantee.Warnings) logger.LogWarning("Delivery into {Table}: {Warning}", table, warning);
            OwnershipFollower? ownership = null;
            if (subclusters is not null)
            {
                await PrepareOwnershipAsync(subclusters, target, engine.Engine.StartsWith("Replicated", StringComparison.Ordinal), schema, route, logger, stopping).ConfigureAwait(false);
                ownership = new OwnershipFollower(subclusters, quorum!, logger);
            }
            return new Route(index, route.Name, route.Topics, target, schema, ledger, route.PatternRegex(), ownership);
        }
        catch
        {
            target.Dispose();
            subclusters?.Dispose();
            throw;
        }
    }

    /// <summary>A two-subcluster route needs provenance in its rows (reconcile and takeover find a partition's offsets
    /// by them) and the ownership table in both subclusters; the other subcluster may be unreachable at start (a lost
    /// region): its copy is created by whoever starts there.</summary>
    private static async Task PrepareOwnershipAsync(SubclusterTarget subclusters, ClickHouseTarget target, bool replicated, SchemaTracker? schema, RouteOptions route,
        ILogger logger, CancellationToken stopping)
    {
        if (schema is null || !schema.Decoder.FillsOffset)
            throw new InvalidOperationException($"Route {route.Name}: table {route.Table} has a two-subcluster target, which needs the Native format and the provenance columns " +
                "(_partition, _offset, and _topic; Ingest:Mapping names them): takeover and reconcile find each partition's offsets by them");
        var sql = OwnershipTable.CreateStatement(subclusters.OwnershipTable, replicated);
        foreach (var failure in await target.ExecuteOnEveryEndpointAsync(sql, stopping).ConfigureAwait(false))
            logger.LogWarning("Ownership table {Table} not created on {Failure}", subclusters.OwnershipTable, failure);
        foreach (var client in subclusters.Other)
        {
            try
            {
                await client.ExecuteAsync(sql, null, stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Ownership table {Table} not created on {Endpoint} (the other region's subcluster): {Error}", subclusters.OwnershipTable, client.Endpoint, e.Message);
            }
        }
    }
}

using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Kafka;

namespace Ingest.Pipeline.Backup;

/// <summary>The tables a region's backup is made of, named from the worker's configuration: each route's table, the
/// checkpoint table next to it, and the backup-point table of each database; with a client per configured endpoint
/// (the region's replicas).</summary>
internal sealed class RegionTables : IDisposable
{
    private readonly Dictionary<string, string> _checkpointOf;
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2Collection? _ca;

    private RegionTables(IngestOptions options)
    {
        Region = options.Region;
        Group = ConsumerSettings.GroupId(options);
        var routes = options.EffectiveRoutes();
        DataTables = [.. routes.Select(r => r.Table).Distinct(StringComparer.Ordinal)];
        _checkpointOf = options.Checkpoints.Enabled
            ? DataTables.ToDictionary(t => t, t => options.Checkpoints.Table ?? $"{ClickHouseText.SplitTable(t).Database}.ingest_checkpoints", StringComparer.Ordinal)
            : [];
        CheckpointTables = [.. _checkpointOf.Values.Distinct(StringComparer.Ordinal)];
        // Every database the region writes holds the points, so a backup of any of them knows where its data ends.
        BackupPointTables = options.Backup.Table is { } t
            ? [t]
            : [.. DataTables.Select(d => $"{ClickHouseText.SplitTable(d).Database}.ingest_backup_points").Distinct(StringComparer.Ordinal)];
        Mappings = routes.ToDictionary(r => r.Table, r => r.Mapping ?? options.Mapping, StringComparer.Ordinal);
        _ca = options.ClickHouse.LoadCaCertificates();
        Clients = [.. options.ClickHouse.Endpoints.Select(e => new ClickHouseHttpClient(new Uri(e), options.ClickHouse.User, options.ClickHouse.Password,
            options.ClickHouse.RequestTimeout, caCertificates: _ca))];
    }

    public static RegionTables From(IngestOptions options) => new(options);

    public string Region { get; }

    /// <summary>The region's consumer group (<c>&lt;group&gt;.&lt;region&gt;</c>).</summary>
    public string Group { get; }

    public IReadOnlyList<string> DataTables { get; }

    public IReadOnlyList<string> CheckpointTables { get; }

    public IReadOnlyList<string> BackupPointTables { get; }

    /// <summary>Each data table's mapping (its provenance column names).</summary>
    public IReadOnlyDictionary<string, Decoding.MappingOptions> Mappings { get; }

    /// <summary>One client per configured endpoint, in configuration order.</summary>
    public IReadOnlyList<ClickHouseHttpClient> Clients { get; }

    /// <summary>Data, checkpoint and backup-point tables: what a backup of the region holds.</summary>
    public IReadOnlyList<string> All => [.. DataTables, .. CheckpointTables, .. BackupPointTables];

    /// <summary>The checkpoint table of <paramref name="dataTable"/>; null when checkpoints are off.</summary>
    public string? CheckpointTableOf(string dataTable) => _checkpointOf.GetValueOrDefault(dataTable);

    /// <summary>The first endpoint that answers <c>SELECT 1</c>; throws naming every endpoint and its error.</summary>
    public Task<ClickHouseHttpClient> FirstReachableAsync(CancellationToken ct) =>
        ClickHouseHttpClient.FirstAnsweringAsync(Clients, errors => new InvalidOperationException($"no ClickHouse endpoint of region {Region} answers: {errors}"), ct);

    /// <summary>Whether the first data table's engine is a Replicated* one on <paramref name="client"/>.</summary>
    public async Task<bool> IsReplicatedAsync(ClickHouseHttpClient client, CancellationToken ct)
    {
        var (db, name) = ClickHouseText.SplitTable(DataTables[0]);
        var engine = await client.ScalarAsync(
            $"SELECT engine FROM system.tables WHERE database = {ClickHouseText.Quote(db)} AND name = {ClickHouseText.Quote(name)}", ct).ConfigureAwait(false);
        return engine?.StartsWith("Replicated", StringComparison.Ordinal) == true;
    }

    /// <summary><c>SYSTEM SYNC REPLICA</c> on every endpoint for each of <paramref name="tables"/> that is replicated there:
    /// afterwards each replica holds every part any replica had, so a backup of any one of them is complete. Throws
    /// naming the endpoint that could not be synced.</summary>
    public async Task<int> SyncReplicasAsync(IReadOnlyList<string> tables, CancellationToken ct)
    {
        var synced = 0;
        var names = string.Join(", ", tables.Select(ClickHouseText.Quote));
        foreach (var client in Clients)
        {
            try
            {
                var replicated = await client.QueryAsync(
                    $"SELECT concat(database, '.', table) FROM system.replicas WHERE concat(database, '.', table) IN ({names}) FORMAT TSV", ct: ct).ConfigureAwait(false);
                foreach (var table in replicated.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    await client.ExecuteAsync($"SYSTEM SYNC REPLICA {ClickHouseText.UnescapeTsv(table)}", ct: ct).ConfigureAwait(false);
                    synced++;
                }
            }
            catch (Exception e) when (e is HttpRequestException or ClickHouseServerException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                throw new InvalidOperationException($"SYSTEM SYNC REPLICA on {client.Endpoint} failed: {e.Message}", e);
            }
        }
        return synced;
    }

    public void Dispose()
    {
        foreach (var c in Clients) c.Dispose();
        if (_ca is not null)
        {
            foreach (var c in _ca) c.Dispose();
        }
    }
}

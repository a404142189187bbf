using System.Globalization;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Regions;

/// <summary>A replica's row of system.replicas for one table, as the server it runs on reports it: the one reader for
/// takeover and failback checks, the ownership refresh and reconcile.</summary>
internal sealed record ReplicaStatus(bool Found, bool ReadOnly, bool SessionExpired, long QueueSize, long AbsoluteDelay, int? ActiveReplicas, int? TotalReplicas)
{
    private static readonly ReplicaStatus Missing = new(false, false, false, 0, 0, null, null);

    /// <summary>Its Keeper answers and every replica is active: the region's servers are up.</summary>
    public bool LooksAlive => Found && !ReadOnly && !SessionExpired && ActiveReplicas == TotalReplicas && ActiveReplicas is not null;

    /// <summary>Still fetching parts from the other replicas: what it holds is not the newest yet. A read-only replica
    /// (its Keeper gone) fetches nothing, and nothing newer can be written into its subcluster either.</summary>
    public bool CatchingUp => Found && !ReadOnly && QueueSize > 0;

    public override string ToString() => !Found
        ? "table not found in system.replicas"
        : $"is_readonly={(ReadOnly ? 1 : 0)}, is_session_expired={(SessionExpired ? 1 : 0)}, " +
          (ActiveReplicas is { } active ? $"active replicas {active}/{TotalReplicas}, " : "") + $"queue {QueueSize}, absolute_delay {AbsoluteDelay} s";

    /// <summary>The row of <paramref name="table"/> on the server <paramref name="client"/> talks to; not found when
    /// the table is not replicated there. With <paramref name="replicaCounts"/>, also active_replicas and
    /// total_replicas, which the server reads from Keeper; without them the row is the server's own state only and
    /// answers as fast when Keeper is gone.</summary>
    public static async Task<ReplicaStatus> ReadAsync(ClickHouseHttpClient client, string table, bool replicaCounts, CancellationToken ct)
    {
        var (database, name) = ClickHouseText.SplitTable(table);
        var text = await client.QueryAsync(
            $"SELECT is_readonly, is_session_expired, queue_size, absolute_delay{(replicaCounts ? ", active_replicas, total_replicas" : "")} FROM system.replicas " +
            $"WHERE database = {ClickHouseText.Quote(database)} AND table = {ClickHouseText.Quote(name)} FORMAT TSV",
            null, ct).ConfigureAwait(false);
        var f = text.Trim().Split('\t');
        if (f.Length < (replicaCounts ? 6 : 4)) return Missing;
        return new ReplicaStatus(true, f[0] == "1", f[1] == "1", Long(f[2]), Long(f[3]), replicaCounts ? (int)Long(f[4]) : null, replicaCounts ? (int)Long(f[5]) : null);
    }

    private static long Long(string s) => long.Parse(s, CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Regions;

/// <summary>Offsets <see cref="From"/>..<see cref="To"/> of a partition found in both subclusters: kept in the one
/// whose region owns them (the range map), removed from the other.</summary>
public sealed record ReconcileRange(string Table, string Topic, int Partition, long From, long To, string KeptIn, string RemovedFrom);

/// <summary>What reconcile found and did. <see cref="Remaining"/>: offsets still in both subclusters after it
/// (0 when it was applied and the deletes took); <see cref="WithinSubcluster"/>: rows stored twice in one subcluster
/// (a replay older than the deduplication window), reported only.</summary>
public sealed record ReconcileReport(string Region, bool Applied, IReadOnlyList<ReconcileRange> Duplicates, long DuplicateOffsets, long Remaining,
    long WithinSubcluster, IReadOnlyList<string> Notes);

/// <summary>Finds the rows a region change left in both subclusters — the lost owner's INSERT that was not seen at
/// takeover and landed after all, or what a stale owner wrote before it saw the new epoch — and, with apply, deletes
/// the copy in the subcluster that does not own those offsets (ALTER TABLE … DELETE on one of its replicas). Only
/// partitions with a takeover in their history are looked at, from the first takeover's start on: before it every
/// offset was written by one region. Checked by reading again, not by system.mutations (on 18.16 a mutation in a
/// table whose history holds a quorum INSERT that timed out never reports done, though its rows are gone).</summary>
public sealed class Reconcile
{
    /// <summary>Offsets are compared per chunk of this many: the counts per chunk are read from both subclusters, and
    /// the offsets themselves only for chunks present in both (the few around each ownership change).</summary>
    private const int Chunk = 8192;

    private static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(60);
    private readonly IngestOptions _options;
    private readonly ILogger _logger;

    public Reconcile(IngestOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    public async Task<ReconcileReport> RunAsync(bool apply, CancellationToken ct)
    {
        var duplicates = new List<ReconcileRange>();
        var notes = new List<string>();
        long offsets = 0, remaining = 0, within = 0;
        var any = false;
        foreach (var route in _options.EffectiveRoutes().DistinctBy(r => r.Table))
        {
            if (_options.TargetOf(route) is not { IsTwoSubcluster: true } target) continue;
            any = true;
            using var t = new SubclusterTarget(_options, route, target);
            var clients = new Dictionary<string, ClickHouseHttpClient>
            {
                [t.Region] = await FirstAnsweringAsync(t.Home, t.Region, ct).ConfigureAwait(false),
                [t.OtherRegion] = await FirstAnsweringAsync(t.Other, t.OtherRegion, ct).ConfigureAwait(false),
            };
            // A replica still fetching what the returned region wrote would show only part of the copies.
            foreach (var (region, client) in clients) await WaitCaughtUpAsync(client, t.Table, region, ct).ConfigureAwait(false);
            var claims = new List<OwnershipClaim>();
            foreach (var client in clients.Values) claims.AddRange(await OwnershipTable.ReadAsync(client, t.OwnershipTable, t.BaseGroup, t.Table, ct).ConfigureAwait(false));
            var view = new OwnershipView(claims, t.InitialOwner);
            var columns = new Columns(route.Mapping ?? _options.Mapping, t.Topics.Count > 1);
            foreach (var p in view.Claims.Select(c => c.TopicPartition).Distinct().OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition.Value))
            {
                var takeovers = view.History(p).Where(c => c.HasStart).ToList();
                if (takeovers.Count == 0) continue;
                var from = takeovers.Min(c => c.UncertainFirst >= 0 ? Math.Min(c.UncertainFirst, c.StartOffset) : c.StartOffset);
                var (both, twice) = await BothAsync(t, clients, columns, p, from, ct).ConfigureAwait(false);
                within += twice;
                if (both.Count == 0) continue;
                offsets += both.Count;
                var found = Ranges(t.Table, p, both, view, t);
                duplicates.AddRange(found);
                if (!apply) continue;
                foreach (var byTarget in found.GroupBy(r => r.RemovedFrom))
                    await DeleteAsync(t.SubclusterOf(byTarget.Key), t.Table, columns, p, [.. byTarget], ct).ConfigureAwait(false);
                var left = await RemainingAsync(t, clients, columns, p, from, ct).ConfigureAwait(false);
                if (left > 0)
                {
                    // Copies that arrived while the first delete ran: once more.
                    var (again, _) = await BothAsync(t, clients, columns, p, from, ct).ConfigureAwait(false);
                    var more = Ranges(t.Table, p, again, view, t);
                    foreach (var byTarget in more.GroupBy(r => r.RemovedFrom))
                        await DeleteAsync(t.SubclusterOf(byTarget.Key), t.Table, columns, p, [.. byTarget], ct).ConfigureAwait(false);
                    left = await RemainingAsync(t, clients, columns, p, from, ct).ConfigureAwait(false);
                }
                remaining += left;
                if (left > 0) notes.Add($"{t.Table} {p}: {left} offsets still in both subclusters {VerifyTimeout.TotalSeconds:0} s after the delete (mutation pending: see system.mutations)");
            }
        }
        if (!any) throw new OwnershipRefusedException("no route of this configuration writes a two-subcluster target: there is nothing to reconcile");
        if (!apply) remaining = offsets;
        return new ReconcileReport(_options.Region, apply, duplicates, offsets, remaining, within, notes);
    }

    private sealed record Columns(Decoding.MappingOptions Mapping, bool FilterTopic)
    {
        public string Offset => $"toInt64({ClickHouseText.QuoteIdentifier(Mapping.Provenance.Offset)})";

        public string Where(TopicPartition p) =>
            (FilterTopic ? $"{ClickHouseText.QuoteIdentifier(Mapping.Provenance.Topic)} = {ClickHouseText.Quote(p.Topic)} AND " : "")
            + $"{ClickHouseText.QuoteIdentifier(Mapping.Provenance.Partition)} = {p.Partition.Value}";
    }

    private static Task<ClickHouseHttpClient> FirstAnsweringAsync(IReadOnlyList<ClickHouseHttpClient> clients, string region, CancellationToken ct) =>
        ClickHouseHttpClient.FirstAnsweringAsync(clients,
            errors => new OwnershipRefusedException($"reconcile reads both subclusters; no replica of region {region}'s answers ({errors})"), ct);

    /// <summary>Waits (up to a minute) until the replica has nothing left to fetch: queue empty, Keeper session up.</summary>
    private static async Task WaitCaughtUpAsync(ClickHouseHttpClient client, string table, string region, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + VerifyTimeout;
        while (true)
        {
            var status = await ReplicaStatus.ReadAsync(client, table, replicaCounts: false, ct).ConfigureAwait(false);
            if (!status.Found || (!status.ReadOnly && status.QueueSize == 0)) return;
            if (DateTime.UtcNow >= deadline)
                throw new OwnershipRefusedException($"{client.Endpoint}, region {region}'s replica of {table}, is not caught up after {VerifyTimeout.TotalSeconds:0} s " +
                    $"({status}): reconcile once replication has caught up");
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The offsets ≥ <paramref name="from"/> present in both subclusters, and how many rows repeat an offset
    /// within one subcluster.</summary>
    private static async Task<(SortedSet<long> Both, long Twice)> BothAsync(SubclusterTarget t, Dictionary<string, ClickHouseHttpClient> clients, Columns columns,
        TopicPartition p, long from, CancellationToken ct)
    {
        var chunks = new Dictionary<string, HashSet<long>>();
        long twice = 0;
        foreach (var (region, client) in clients)
        {
            var text = await client.QueryAsync(
                $"SELECT intDiv({columns.Offset}, {Chunk}) AS chunk, count() - uniqExact({columns.Offset}) FROM {t.Table} WHERE {columns.Where(p)} AND {columns.Offset} >= {from} GROUP BY chunk FORMAT TSV",
                null, ct).ConfigureAwait(false);
            chunks[region] = [];
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split('\t');
                chunks[region].Add(long.Parse(f[0], CultureInfo.InvariantCulture));
                twice += long.Parse(f[1], CultureInfo.InvariantCulture);
            }
        }
        var shared = chunks[t.Region].Intersect(chunks[t.OtherRegion]).ToList();
        var both = new SortedSet<long>();
        if (shared.Count == 0) return (both, twice);
        var inChunks = $"intDiv({columns.Offset}, {Chunk}) IN ({string.Join(", ", shared)})";
        HashSet<long>? first = null;
        foreach (var client in clients.Values)
        {
            var text = await client.QueryAsync($"SELECT DISTINCT {columns.Offset} FROM {t.Table} WHERE {columns.Where(p)} AND {columns.Offset} >= {from} AND {inChunks} FORMAT TSV",
                null, ct).ConfigureAwait(false);
            var offsets = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l, CultureInfo.InvariantCulture)).ToHashSet();
            if (first is null) first = offsets;
            else both.UnionWith(first.Intersect(offsets));
        }
        return (both, twice);
    }

    /// <summary>Runs of consecutive offsets with one owner: each kept in its owner's subcluster, removed from the other.</summary>
    private static List<ReconcileRange> Ranges(string table, TopicPartition p, SortedSet<long> offsets, OwnershipView view, SubclusterTarget t)
    {
        var ranges = new List<ReconcileRange>();
        long start = 0, last = 0;
        string? owner = null;
        foreach (var o in offsets)
        {
            var who = view.OwnerOf(p, o);
            if (owner is not null && (o != last + 1 || who != owner))
            {
                ranges.Add(Range(start, last, owner));
                owner = null;
            }
            if (owner is null) (start, owner) = (o, who);
            last = o;
        }
        if (owner is not null) ranges.Add(Range(start, last, owner));
        return ranges;

        ReconcileRange Range(long from, long to, string kept) =>
            new(table, p.Topic, p.Partition.Value, from, to, kept, kept == t.Region ? t.OtherRegion : t.Region);
    }

    private async Task DeleteAsync(IReadOnlyList<ClickHouseHttpClient> subcluster, string table, Columns columns, TopicPartition p, List<ReconcileRange> ranges,
        CancellationToken ct)
    {
        var sql = new StringBuilder($"ALTER TABLE {table} DELETE WHERE {columns.Where(p)} AND (");
        sql.AppendJoin(" OR ", ranges.Select(r => $"{columns.Offset} BETWEEN {r.From} AND {r.To}")).Append(')');
        var errors = new List<string>();
        foreach (var client in subcluster)
        {
            try
            {
                await client.ExecuteAsync(sql.ToString(), null, ct).ConfigureAwait(false);
                _logger.LogWarning("Deleting {Count} duplicated offset range(s) of {Partition} from {Table} on {Endpoint}", ranges.Count, p, table, client.Endpoint);
                return;
            }
            catch (ClickHouseServerException e)
            {
                errors.Add($"{client.Endpoint}: {e.Message}");
            }
        }
        throw new OwnershipRefusedException($"cannot delete the duplicates of {p} from {table} (needs the subcluster's Keeper): {string.Join("; ", errors)}");
    }

    private static async Task<long> RemainingAsync(SubclusterTarget t, Dictionary<string, ClickHouseHttpClient> clients, Columns columns, TopicPartition p, long from,
        CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + VerifyTimeout;
        while (true)
        {
            var (both, _) = await BothAsync(t, clients, columns, p, from, ct).ConfigureAwait(false);
            if (both.Count == 0 || DateTime.UtcNow >= deadline) return both.Count;
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }
}

using System.Globalization;
using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Regions;

/// <summary>A takeover or failback refused: a precondition failed (the message says which and how to proceed).</summary>
public sealed class OwnershipRefusedException(string message) : InvalidOperationException(message);

/// <summary>Takeover, failback and the ownership view, for every two-subcluster route of a worker's configuration.
/// Claims are data: the command writes them into ClickHouse, and every worker of both regions acts on them at its
/// next ownership refresh (FollowInterval). Runs off the pipeline thread (admin API, CLI).</summary>
public sealed class OwnershipCommands
{
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(10);
    private readonly IngestOptions _options;
    private readonly ILogger _logger;

    public OwnershipCommands(IngestOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    private string Claimant => $"{_options.Region}/{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>Every partition of every two-subcluster route: its current claim.</summary>
    public async Task<OwnershipReport> ShowAsync(CancellationToken ct)
    {
        var routes = new List<RouteOwnership>();
        foreach (var (route, target) in Routes())
        {
            using var t = new SubclusterTarget(_options, route, target);
            var side = await ReadAsync(t, ct).ConfigureAwait(false);
            routes.Add(new RouteOwnership(t.Table, t.Region, t.OtherRegion,
                [.. Partitions(t).Select(p => Row(side.View.Current(p), null, null))]));
        }
        return new OwnershipReport(_options.Region, "show", routes, []);
    }

    /// <summary>This region claims the partitions <paramref name="from"/> owns: each from the first offset not known
    /// (on this region's replica of <paramref name="from"/>'s subcluster) to be written there. Without
    /// <paramref name="force"/>, refused while that subcluster looks alive (all its replicas active, its Keeper
    /// answering): a live owner must be stopped first, or handed over.</summary>
    public async Task<OwnershipReport> TakeoverAsync(string from, bool force, bool dryRun, CancellationToken ct)
    {
        var checks = new List<string>();
        var routes = new List<RouteOwnership>();
        foreach (var (route, target) in Routes())
        {
            using var t = new SubclusterTarget(_options, route, target);
            if (from != t.OtherRegion)
                throw new OwnershipRefusedException($"cannot take over from '{from}': the other region of {t.Table} is '{t.OtherRegion}' (this worker is region {t.Region})");
            var side = await ReadAsync(t, ct).ConfigureAwait(false);
            if (side.OtherClient is null)
                throw new OwnershipRefusedException($"no replica of region {from}'s subcluster answers ({string.Join(", ", t.OtherEndpoints)}): its checkpoints, which say where to start, cannot be read");
            var health = await ReplicaStatus.ReadAsync(side.OtherClient, t.Table, replicaCounts: true, ct).ConfigureAwait(false);
            checks.Add($"{t.Table}: region {from}'s subcluster as {side.OtherClient.Endpoint} sees it: {health}");
            if (!force && health.LooksAlive)
                throw new OwnershipRefusedException($"region {from} looks alive: {t.Table}'s replicas in its subcluster are all active and its Keeper answers ({health}). " +
                    $"Stop region {from}'s workers first, then take over with --force; or hand partitions back with failback");
            var mine = await CheckpointStore.ReadGroupAsync(sql => side.HomeClient.QueryAsync(sql, null, ct), t.CheckpointTable, t.GroupOf(t.Region), t.Table).ConfigureAwait(false);
            var mapping = route.Mapping ?? _options.Mapping;
            var claims = new List<OwnershipClaim>();
            var rows = new List<PartitionOwnership>();
            var dataNext = new Dictionary<string, Dictionary<int, long>>(StringComparer.Ordinal);
            foreach (var p in Partitions(t))
            {
                var current = side.View.Current(p);
                // A hand-over to this region that the lost region never released (it was lost first) is taken over too:
                // otherwise this region would wait for that release row for ever.
                var stuck = current.Owner == t.Region && !current.HasStart && current.PreviousOwner == from && !side.View.IsReleased(p, current.Epoch);
                if (current.Owner != from && !stuck)
                {
                    rows.Add(Row(current, null, null));
                    continue;
                }
                if (!dataNext.TryGetValue(p.Topic, out var next))
                    dataNext[p.Topic] = next = await DataNextAsync(side.OtherClient, t, mapping, p.Topic, ct).ConfigureAwait(false);
                var (start, uncertainFirst, uncertainLast, note) = StartOf(side, mine, next, p, current);
                var claim = new OwnershipClaim(p.Topic, p.Partition.Value, current.Epoch + 1, t.Region, start, uncertainFirst, uncertainLast, OwnershipClaim.Takeover, from,
                    Claimant, DateTimeOffset.UtcNow);
                claims.Add(claim);
                rows.Add(Row(claim, null, note));
            }
            if (!dryRun) await WriteClaimsAsync(t, side, claims, ct).ConfigureAwait(false);
            _logger.LogWarning("{Action} of {Count} partitions of {Table} from region {From}", dryRun ? "Dry run: takeover" : "Takeover", claims.Count, t.Table, from);
            routes.Add(new RouteOwnership(t.Table, t.Region, t.OtherRegion, rows));
        }
        return new OwnershipReport(_options.Region, dryRun ? "takeover (dry run)" : "takeover", routes, checks);
    }

    /// <summary>Hands the partitions this region took over back to <paramref name="to"/> (their configured owner):
    /// claims at a new epoch with no start; this region's workers stop them, send what they hold and write a release
    /// row; <paramref name="to"/>'s workers start exactly after it. Waits up to <paramref name="wait"/> for the release
    /// rows. Without <paramref name="force"/>, refused while <paramref name="to"/>'s subcluster is not fully back.</summary>
    public async Task<OwnershipReport> FailbackAsync(string to, bool force, bool dryRun, TimeSpan wait, CancellationToken ct)
    {
        var checks = new List<string>();
        var routes = new List<RouteOwnership>();
        foreach (var (route, target) in Routes())
        {
            using var t = new SubclusterTarget(_options, route, target);
            if (to != t.OtherRegion)
                throw new OwnershipRefusedException($"cannot fail back to '{to}': the other region of {t.Table} is '{t.OtherRegion}' (this worker is region {t.Region})");
            var side = await ReadAsync(t, ct).ConfigureAwait(false);
            if (side.OtherClient is null && !force)
                throw new OwnershipRefusedException($"no replica of region {to}'s subcluster answers ({string.Join(", ", t.OtherEndpoints)}): it is not back yet");
            if (side.OtherClient is not null)
            {
                var health = await ReplicaStatus.ReadAsync(side.OtherClient, t.Table, replicaCounts: true, ct).ConfigureAwait(false);
                checks.Add($"{t.Table}: region {to}'s subcluster as {side.OtherClient.Endpoint} sees it: {health}");
                if (!force && !health.LooksAlive)
                    throw new OwnershipRefusedException($"region {to}'s subcluster is not fully back ({health}): its replicas must be active and writable before it writes again");
            }
            var claims = Partitions(t).Select(side.View.Current).Where(c => c.Owner == t.Region && t.InitialOwner(c.Partition) == to)
                .Select(c => new OwnershipClaim(c.Topic, c.Partition, c.Epoch + 1, to, -1, -1, -1, OwnershipClaim.Failback, t.Region, Claimant, DateTimeOffset.UtcNow))
                .ToList();
            if (!dryRun) await WriteClaimsAsync(t, side, claims, ct).ConfigureAwait(false);
            _logger.LogWarning("{Action} of {Count} partitions of {Table} to region {To}", dryRun ? "Dry run: failback" : "Failback", claims.Count, t.Table, to);
            var released = dryRun ? [] : await WaitForReleasesAsync(t, side.HomeClient, claims, wait, ct).ConfigureAwait(false);
            routes.Add(new RouteOwnership(t.Table, t.Region, t.OtherRegion, [.. claims.Select(c =>
                Row(c, released.TryGetValue(c.TopicPartition, out var r) ? r : null,
                    dryRun || released.ContainsKey(c.TopicPartition) ? null : $"not released within {wait.TotalSeconds:0} s: is a worker of region {t.Region} running with it assigned?"))]));
        }
        return new OwnershipReport(_options.Region, dryRun ? "failback (dry run)" : "failback", routes, checks);
    }

    private IEnumerable<(RouteOptions Route, TargetOptions Target)> Routes()
    {
        var any = false;
        foreach (var route in _options.EffectiveRoutes().DistinctBy(r => r.Table))
        {
            if (_options.TargetOf(route) is not { IsTwoSubcluster: true } target) continue;
            any = true;
            yield return (route, target);
        }
        if (!any) throw new OwnershipRefusedException("no route of this worker writes a two-subcluster target (Ingest:Targets:<name>:Kind two-subcluster): ownership does not apply");
    }

    /// <summary>The route's topics' partitions, from Kafka's metadata.</summary>
    private List<TopicPartition> Partitions(SubclusterTarget t)
    {
        using var admin = GroupOffsets.BuildAdmin(_options.Kafka.BootstrapServers, _options.Kafka.Properties);
        return [.. GroupOffsets.Partitions(admin, [.. t.Topics], MetadataTimeout).OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition.Value)];
    }

    private sealed record Side(OwnershipView View, ClickHouseHttpClient HomeClient, ClickHouseHttpClient? OtherClient,
        IReadOnlyDictionary<TopicPartition, Checkpoint> OtherCheckpoints);

    /// <summary>Both copies of the history (home must answer), and the other region's checkpoints from a replica of
    /// its subcluster (<see cref="SubclusterReads.OtherAsync"/>).</summary>
    private static async Task<Side> ReadAsync(SubclusterTarget t, CancellationToken ct)
    {
        var (home, claims) = await SubclusterReads.HomeAsync(t, ct).ConfigureAwait(false);
        return await SubclusterReads.OtherAsync(t, MetadataTimeout, ct).ConfigureAwait(false) is { } other
            ? new Side(new OwnershipView(claims.Concat(other.Claims), t.InitialOwner), home, other.Client, other.Checkpoints)
            : new Side(new OwnershipView(claims, t.InitialOwner), home, null, new Dictionary<TopicPartition, Checkpoint>());
    }

    /// <summary>Where the lost owner's range ends, as this region's replica of its subcluster shows it: the data decides
    /// (rows of a partition are one unbroken offset run, inserted in order), and the checkpoint adds what the data
    /// cannot say. Its checkpoint rows are written without quorum, so the replica may hold a group's rows but not yet
    /// the row committing them: the start is after the newest row there. A pending group whose rows are not there may
    /// still exist only in the lost region (an INSERT that was not acknowledged): it is written again here and its
    /// range recorded as uncertain (reconcile finds the copies if it lands there after all).</summary>
    private static (long Start, long UncertainFirst, long UncertainLast, string? Note) StartOf(Side side, IReadOnlyDictionary<TopicPartition, Checkpoint> mine,
        IReadOnlyDictionary<int, long> dataNext, TopicPartition p, OwnershipClaim current)
    {
        var data = dataNext.TryGetValue(p.Partition.Value, out var n) ? n : 0;
        if (!side.OtherCheckpoints.TryGetValue(p, out var theirs) || CheckpointVersion.EpochOf(theirs.Version) < current.Epoch)
        {
            // The owner has not checkpointed in its current epoch: that epoch's own start is where it would have begun.
            if (current.HasStart) return (Math.Max(current.StartOffset, data), -1, -1, "owner wrote nothing since its claim");
            if (current.Epoch > 0 && mine.TryGetValue(p, out var released) && CheckpointVersion.EpochOf(released.Version) >= current.Epoch)
                return (Math.Max(released.LastOffset + 1, data), -1, -1, "owner wrote nothing since this region released it");
            if (side.OtherCheckpoints.ContainsKey(p)) return (Math.Max(theirs.ResumeOffset, data), -1, -1, null);
            // Checkpoints are written before any row: no checkpoint, no row.
            return (0, -1, -1, "owner never wrote it: from the partition's start");
        }
        if (theirs.State == CheckpointState.Committed || data > theirs.LastOffset)
            return (Math.Max(theirs.LastOffset + 1, data), -1, -1, theirs.State == CheckpointState.Pending ? $"its last INSERT {theirs.FirstOffset}..{theirs.LastOffset} is there" : null);
        if (data > theirs.FirstOffset) return (data, -1, -1, $"its last INSERT {theirs.FirstOffset}..{theirs.LastOffset} is there up to {data - 1}");
        return (Math.Max(theirs.FirstOffset, data), theirs.FirstOffset, theirs.LastOffset,
            $"its last INSERT {theirs.FirstOffset}..{theirs.LastOffset} is not there: written again here");
    }

    /// <summary>Per partition of <paramref name="topic"/>, the offset after the newest row in the table on
    /// <paramref name="client"/>.</summary>
    private static async Task<Dictionary<int, long>> DataNextAsync(ClickHouseHttpClient client, SubclusterTarget t, Decoding.MappingOptions mapping, string topic,
        CancellationToken ct)
    {
        var provenance = mapping.Provenance;
        // A single-topic route's table may have no topic column.
        var where = t.Topics.Count == 1 ? "" : $"WHERE {ClickHouseText.QuoteIdentifier(provenance.Topic)} = {ClickHouseText.Quote(topic)} ";
        var (partition, offset) = (ClickHouseText.QuoteIdentifier(provenance.Partition), ClickHouseText.QuoteIdentifier(provenance.Offset));
        var text = await client.QueryAsync($"SELECT toUInt32({partition}), toInt64(max({offset})) + 1 FROM {t.Table} {where}GROUP BY {partition} FORMAT TSV", null, ct)
            .ConfigureAwait(false);
        var result = new Dictionary<int, long>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            result[int.Parse(f[0], CultureInfo.InvariantCulture)] = long.Parse(f[1], CultureInfo.InvariantCulture);
        }
        return result;
    }

    /// <summary>Into this region's subcluster (must succeed) and, best effort, the other's (its Keeper may be gone;
    /// the workers' refresh copies it there later).</summary>
    private async Task WriteClaimsAsync(SubclusterTarget t, Side side, List<OwnershipClaim> claims, CancellationToken ct)
    {
        if (claims.Count == 0) return;
        await OwnershipTable.WriteAsync(side.HomeClient, t.OwnershipTable, t.BaseGroup, t.Table, claims, ct).ConfigureAwait(false);
        foreach (var other in t.Other)
        {
            try
            {
                await OwnershipTable.WriteAsync(other, t.OwnershipTable, t.BaseGroup, t.Table, claims, ct).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogInformation("Claims not copied into {Endpoint} yet ({Error}); the workers copy them once it takes writes", other.Endpoint, e.Message);
            }
        }
    }

    /// <summary>Polls this region's checkpoints until each handed-over partition has its release row (a checkpoint of the
    /// claim's epoch); returns the offsets the new owner starts from.</summary>
    private static async Task<Dictionary<TopicPartition, long>> WaitForReleasesAsync(SubclusterTarget t, ClickHouseHttpClient home, List<OwnershipClaim> claims,
        TimeSpan wait, CancellationToken ct)
    {
        var released = new Dictionary<TopicPartition, long>();
        var deadline = DateTime.UtcNow + wait;
        while (released.Count < claims.Count)
        {
            var mine = await CheckpointStore.ReadGroupAsync(sql => home.QueryAsync(sql, null, ct), t.CheckpointTable, t.GroupOf(t.Region), t.Table).ConfigureAwait(false);
            foreach (var c in claims)
            {
                if (mine.TryGetValue(c.TopicPartition, out var cp) && CheckpointVersion.EpochOf(cp.Version) >= c.Epoch) released[c.TopicPartition] = cp.LastOffset + 1;
            }
            if (released.Count == claims.Count || DateTime.UtcNow >= deadline) break;
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
        return released;
    }

    private static PartitionOwnership Row(OwnershipClaim c, long? released, string? note) =>
        new(c.Topic, c.Partition, c.Epoch, c.Owner, c.PreviousOwner, c.Reason, c.StartOffset, c.UncertainFirst, c.UncertainLast, released, note);
}

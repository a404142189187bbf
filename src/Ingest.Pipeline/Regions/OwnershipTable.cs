using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Regions;

/// <summary>One row of the ownership history: from <see cref="StartOffset"/> on, <see cref="Owner"/> writes the
/// partition into its home subcluster, until a claim of a higher epoch. StartOffset −1: where the previous owner
/// stopped (epoch 0: the owner's own checkpoint; a hand-over: the previous owner's release row). A takeover records
/// the previous owner's INSERT it could not see land (<see cref="UncertainFirst"/>..<see cref="UncertainLast"/>,
/// −1 when none): those offsets may end up in both subclusters.</summary>
internal sealed record OwnershipClaim(
    string Topic, int Partition, uint Epoch, string Owner, long StartOffset, long UncertainFirst, long UncertainLast,
    string Reason, string PreviousOwner, string ClaimedBy, DateTimeOffset ClaimedAt)
{
    public const string Initial = "initial";
    public const string Takeover = "takeover";
    public const string Failback = "failback";

    /// <summary>Not a claim: the releasing region's note of where a hand-over of <see cref="Epoch"/> starts
    /// (<see cref="StartOffset"/>), so the range map stays whole after the checkpoint table merged its rows away.</summary>
    public const string Released = "released";

    public TopicPartition TopicPartition => new(Topic, new Partition(Partition));

    /// <summary>The claimant chose where to start (a takeover); otherwise the previous owner's end decides.</summary>
    public bool HasStart => StartOffset >= 0;

    /// <summary>Epoch 0: the configured owner, never written.</summary>
    public static OwnershipClaim InitialOf(TopicPartition p, string owner) =>
        new(p.Topic, p.Partition.Value, 0, owner, -1, -1, -1, Initial, "", "", DateTimeOffset.UnixEpoch);
}

/// <summary>The ownership history table: ReplicatedMergeTree (never replacing: the history is the range map reconcile
/// reads), one copy in each subcluster. Readers take the union of both copies, so a claim written into one is enough.</summary>
internal static class OwnershipTable
{
    private static readonly MediaTypeHeaderValue Tsv = new("text/tab-separated-values");

    // A claim written twice (copied into the other subcluster, a retry) is the same block: deduplicated, harmless.
    private static readonly Dictionary<string, string> NoQuorum = new() { ["insert_quorum"] = "0" };

    public static string CreateStatement(string table, bool replicated) => $"""
        CREATE TABLE IF NOT EXISTS {table}
        (
            base_group String,
            target_table String,
            topic String,
            partition UInt32,
            epoch UInt32,
            owner String,
            start_offset Int64,
            uncertain_first Int64,
            uncertain_last Int64,
            reason String,
            previous_owner String,
            claimed_by String,
            claimed_at DateTime
        )
        ENGINE = {(replicated ? $"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}')" : "MergeTree()")}
        ORDER BY (base_group, target_table, topic, partition, epoch)
        """;

    public static async Task<List<OwnershipClaim>> ReadAsync(ClickHouseHttpClient client, string table, string baseGroup, string targetTable, CancellationToken ct)
    {
        var text = await client.QueryAsync($"""
            SELECT topic, partition, epoch, owner, start_offset, uncertain_first, uncertain_last, reason, previous_owner, claimed_by, toUnixTimestamp(claimed_at)
            FROM {table}
            WHERE base_group = {ClickHouseText.Quote(baseGroup)} AND target_table = {ClickHouseText.Quote(targetTable)}
            FORMAT TSV
            """, null, ct).ConfigureAwait(false);
        var claims = new List<OwnershipClaim>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            claims.Add(new OwnershipClaim(ClickHouseText.UnescapeTsv(f[0]), int.Parse(f[1], CultureInfo.InvariantCulture), uint.Parse(f[2], CultureInfo.InvariantCulture),
                ClickHouseText.UnescapeTsv(f[3]), long.Parse(f[4], CultureInfo.InvariantCulture), long.Parse(f[5], CultureInfo.InvariantCulture),
                long.Parse(f[6], CultureInfo.InvariantCulture), ClickHouseText.UnescapeTsv(f[7]), ClickHouseText.UnescapeTsv(f[8]), ClickHouseText.UnescapeTsv(f[9]),
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(f[10], CultureInfo.InvariantCulture))));
        }
        return claims;
    }

    public static async Task WriteAsync(ClickHouseHttpClient client, string table, string baseGroup, string targetTable, IReadOnlyList<OwnershipClaim> claims, CancellationToken ct)
    {
        if (claims.Count == 0) return;
        var sb = new StringBuilder();
        foreach (var c in claims)
        {
            sb.Append(ClickHouseText.EscapeTsv(baseGroup)).Append('\t').Append(ClickHouseText.EscapeTsv(targetTable)).Append('\t')
              .Append(ClickHouseText.EscapeTsv(c.Topic)).Append('\t').Append(c.Partition).Append('\t').Append(c.Epoch).Append('\t')
              .Append(ClickHouseText.EscapeTsv(c.Owner)).Append('\t').Append(c.StartOffset).Append('\t').Append(c.UncertainFirst).Append('\t')
              .Append(c.UncertainLast).Append('\t').Append(ClickHouseText.EscapeTsv(c.Reason)).Append('\t').Append(ClickHouseText.EscapeTsv(c.PreviousOwner)).Append('\t')
              .Append(ClickHouseText.EscapeTsv(c.ClaimedBy)).Append('\t').Append(c.ClaimedAt.ToUnixTimeSeconds()).Append('\n');
        }
        using var content = new StringContent(sb.ToString(), Encoding.UTF8);
        content.Headers.ContentType = Tsv;
        await client.InsertAsync(table, "TabSeparated", content, NoQuorum, ct).ConfigureAwait(false);
    }
}

/// <summary>Who writes each partition, as read from both subclusters' copies of the history at one moment
/// (immutable). Partitions without claims belong to their configured owner at epoch 0.</summary>
internal sealed class OwnershipView
{
    private readonly Dictionary<TopicPartition, OwnershipClaim[]> _history;
    private readonly Dictionary<(TopicPartition, uint), long> _released = [];
    private readonly Func<int, string> _initialOwner;

    public OwnershipView(IEnumerable<OwnershipClaim> claims, Func<int, string> initialOwner)
    {
        _initialOwner = initialOwner;
        var all = claims.ToList();
        foreach (var r in all.Where(c => c.Reason == OwnershipClaim.Released)) _released[(r.TopicPartition, r.Epoch)] = r.StartOffset;
        // Two claims of one epoch can only come from two operators during a split: the higher region name wins
        // everywhere alike, and reconcile sorts the rows out.
        _history = all.Where(c => c.Reason != OwnershipClaim.Released).DistinctBy(c => (c.Topic, c.Partition, c.Epoch, c.Owner))
            .GroupBy(c => c.TopicPartition)
            .ToDictionary(g => g.Key, g => g.OrderBy(c => c.Epoch).ThenBy(c => c.Owner, StringComparer.Ordinal).ToArray());
        Claims = [.. _history.Values.SelectMany(h => h)];
    }

    /// <summary>Who owns each offset of the partition: (first offset, owner) per epoch that has started, in offset
    /// order; the first entry starts at <see cref="long.MinValue"/>. A hand-over starts where its release row says; one
    /// not released yet has not started (the previous owner still owns what follows).</summary>
    public IReadOnlyList<(long From, string Owner, uint Epoch)> RangeMap(TopicPartition p)
    {
        var map = new List<(long, string, uint)> { (long.MinValue, _initialOwner(p.Partition.Value), 0) };
        foreach (var c in History(p))
        {
            long? start = c.HasStart ? c.StartOffset : _released.TryGetValue((p, c.Epoch), out var r) ? r : null;
            if (start is not { } s) continue;
            // A later epoch cannot start before an earlier one's start; if it claims to, it wins from its start on.
            map.RemoveAll(m => m.Item1 >= s && m.Item1 != long.MinValue);
            map.Add((s, c.Owner, c.Epoch));
        }
        return map;
    }

    /// <summary>The hand-over of <paramref name="epoch"/> has its release row: the new owner knows where to start.</summary>
    public bool IsReleased(TopicPartition p, uint epoch) => _released.ContainsKey((p, epoch));

    public string OwnerOf(TopicPartition p, long offset) => RangeMap(p).Last(m => m.From <= offset).Owner;

    /// <summary>Every claim (epoch ≥ 1) in the view.</summary>
    public IReadOnlyList<OwnershipClaim> Claims { get; }

    public OwnershipClaim Current(TopicPartition p) =>
        _history.TryGetValue(p, out var h) ? h[^1] : OwnershipClaim.InitialOf(p, _initialOwner(p.Partition.Value));

    /// <summary>The partition's claims, oldest first (epoch 0 is not among them).</summary>
    public IReadOnlyList<OwnershipClaim> History(TopicPartition p) => _history.TryGetValue(p, out var h) ? h : [];

    /// <summary>A takeover newer than <paramref name="epoch"/>: the claimant settled where the range before it ends,
    /// so what an older owner left pending is not this region's to replay any more.</summary>
    public bool TakenOverSince(TopicPartition p, uint epoch) => History(p).Any(c => c.Epoch > epoch && c.HasStart);
}

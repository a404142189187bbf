using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>What makes a replayed INSERT recognisable to ClickHouse as the INSERT it already stored
/// (docs/exactly-once.md, measured on 18.16 and chDB 26.7). The unit is the <b>group</b>: the batches (one per
/// partition) sent in one INSERT, recorded in their order as <see cref="Members"/> in the pending checkpoint rows.
/// A replay rebuilds the same batches from Kafka in the same order, so the server squashes them into the same
/// block(s) and drops them as duplicates: on 18.16 by the part's checksum, on servers with
/// insert_deduplication_token (22.x and later) by a token derived from the members, which also keeps apart two
/// groups whose rows happen to be identical. The squashing and block-size settings are pinned, so neither the
/// operator's settings nor the server's defaults can change how a replay is cut into blocks.</summary>
internal sealed class ReplayIdentity
{
    // ClickHouse's defaults, pinned: https://clickhouse.com/docs/operations/settings/settings#min_insert_block_size_rows
    private static readonly Dictionary<string, string> Pinned = new()
    {
        ["insert_deduplicate"] = "1",
        ["max_insert_block_size"] = "1048576",
        ["min_insert_block_size_rows"] = "1048545",
        ["min_insert_block_size_bytes"] = "268435456",
    };

    private readonly string _prefix;

    public ReplayIdentity(bool tokens, string consumerGroup, string table)
    {
        UsesTokens = tokens;
        _prefix = $"ingest:{consumerGroup}:{table}:";
    }

    /// <summary>Settings the identity depends on; an operator's value for them is overridden.</summary>
    public static IReadOnlyCollection<string> ControlledSettings { get; } = [.. Pinned.Keys, "insert_deduplication_token"];

    /// <summary>Answers 1 on servers that have insert_deduplication_token, 0 on others.</summary>
    public const string TokenSupportQuery = "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'";

    public bool UsesTokens { get; }

    public static async Task<bool> ServerHasTokensAsync(ClickHouseTarget target, CancellationToken ct) =>
        (await target.QueryAsync(TokenSupportQuery + " FORMAT TSV", ct).ConfigureAwait(false)).Trim() == "1";

    /// <summary>The group's batches in INSERT order: "topic:partition:first-last,..." (Kafka topic names cannot
    /// contain ':' or ',').</summary>
    public static string Members(IReadOnlyList<PartitionBatch> group) =>
        string.Join(',', group.Select(b => Member(b.Partition, b.FirstOffset, b.LastOffset)));

    /// <summary>One member: "topic:partition:first-last".</summary>
    public static string Member(TopicPartition partition, long first, long last) =>
        string.Create(CultureInfo.InvariantCulture, $"{partition.Topic}:{partition.Partition.Value}:{first}-{last}");

    /// <summary>Parses <see cref="Members"/>.</summary>
    public static IReadOnlyList<(TopicPartition Partition, long First, long Last)> ParseMembers(string members)
    {
        var result = new List<(TopicPartition, long, long)>();
        foreach (var entry in members.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon2 = entry.LastIndexOf(':');
            var colon1 = entry.LastIndexOf(':', colon2 - 1);
            var dash = entry.IndexOf('-', colon2);
            if (colon1 <= 0 || dash < 0) throw new FormatException($"bad checkpoint group member '{entry}' in '{members}'");
            result.Add((new TopicPartition(entry[..colon1], new Partition(int.Parse(entry[(colon1 + 1)..colon2], CultureInfo.InvariantCulture))),
                long.Parse(entry[(colon2 + 1)..dash], CultureInfo.InvariantCulture),
                long.Parse(entry[(dash + 1)..], CultureInfo.InvariantCulture)));
        }
        return result;
    }

    /// <summary>The token of a group: the same members, the same token (hashed: a group can have hundreds).</summary>
    public string Token(string members) =>
        _prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(members)).AsSpan(0, 16));

    /// <summary>Settings for the INSERT of the group whose <see cref="Members"/> are <paramref name="members"/>.</summary>
    public IReadOnlyDictionary<string, string> SettingsFor(string members) =>
        UsesTokens ? new Dictionary<string, string>(Pinned) { ["insert_deduplication_token"] = Token(members) } : Pinned;
}

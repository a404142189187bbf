using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>What makes a replayed batch recognisable to ClickHouse as the batch it already stored
/// (docs/exactly-once.md, measured on 18.16 and chDB 26.7):
/// <list type="bullet">
/// <item><b>Block hash</b> (servers without insert_deduplication_token, e.g. 18.16): each batch is one Native block;
/// with squashing off (min_insert_block_size_rows/bytes = 0) the server keeps the blocks of a multi-batch INSERT apart
/// and identifies each by the checksum of the part it writes, whatever its position in the INSERT, so replays may
/// be grouped differently.</item>
/// <item><b>Token</b> (servers with insert_deduplication_token, 22.x and later): a block's identity there also depends
/// on its position in the INSERT, so each batch goes in its own INSERT, with a token naming its offset range. The
/// token also keeps two batches with identical rows apart.</item>
/// </list></summary>
internal sealed class ReplayIdentity
{
    private static readonly Dictionary<string, string> Unsquashed = new()
    {
        ["insert_deduplicate"] = "1",
        ["min_insert_block_size_rows"] = "0",
        ["min_insert_block_size_bytes"] = "0",
    };

    private readonly string _prefix;

    /// <summary>Settings the identity depends on; an operator's value for them is overridden.</summary>
    public static IReadOnlyCollection<string> ControlledSettings { get; } = [.. Unsquashed.Keys, "insert_deduplication_token"];

    public ReplayIdentity(bool tokens, string consumerGroup, string table)
    {
        UsesTokens = tokens;
        _prefix = $"ingest:{consumerGroup}:{table}:";
    }

    /// <summary>True: one batch per INSERT, identified by token. False: batches may share an INSERT.</summary>
    public bool UsesTokens { get; }

    /// <summary>Answers 1 on servers that have insert_deduplication_token, 0 on others.</summary>
    public const string TokenSupportQuery = "SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token'";

    public static async Task<bool> ServerHasTokensAsync(ClickHouseTarget target, CancellationToken ct) =>
        (await target.QueryAsync(TokenSupportQuery + " FORMAT TSV", ct).ConfigureAwait(false)).Trim() == "1";

    /// <summary>The deterministic token of a batch: the same range of the same partition for the same group and
    /// table, the same token.</summary>
    public string Token(PartitionBatch batch) =>
        $"{_prefix}{batch.Partition.Topic}:{batch.Partition.Partition.Value}:{batch.FirstOffset}-{batch.LastOffset}";

    /// <summary>Settings for the INSERT of <paramref name="group"/> (a single batch when <see cref="UsesTokens"/>).</summary>
    public IReadOnlyDictionary<string, string> SettingsFor(IReadOnlyList<PartitionBatch> group)
    {
        if (!UsesTokens) return Unsquashed;
        if (group.Count != 1) throw new InvalidOperationException("token deduplication needs one batch per INSERT");
        return new Dictionary<string, string>(Unsquashed) { ["insert_deduplication_token"] = Token(group[0]) };
    }
}

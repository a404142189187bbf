using System.Globalization;
using System.Text.RegularExpressions;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>What the target table lets the checkpoint protocol promise (docs/exactly-once.md, "What it
/// guarantees"), worked out at start from the table's engine and settings, so an operator reads it in the log and
/// in /metrics instead of finding out from duplicates.</summary>
internal sealed partial record DeliveryGuarantee(bool ExactlyOnce, string Description, IReadOnlyList<string> Warnings)
{
    /// <summary>Below this many blocks, a replay after a short outage may fall out of the window when several
    /// workers write the table (each group is a block per table partition it touches).</summary>
    private const int RecommendedWindow = 1000;

    /// <summary>Reads the server's merge-tree defaults and decides for the target's <paramref name="engine"/>.</summary>
    public static async Task<DeliveryGuarantee> ReadAsync(ClickHouseTarget target, (string Engine, string EngineFull) engine, bool checkpoints, bool tokens, bool hasOffsetColumn, CancellationToken ct)
    {
        var defaults = await target.QueryAsync(
            "SELECT name, value FROM system.merge_tree_settings WHERE name IN ('replicated_deduplication_window', 'non_replicated_deduplication_window') FORMAT TSV", ct).ConfigureAwait(false);
        return Decide(engine.Engine, engine.EngineFull, defaults, checkpoints, tokens, hasOffsetColumn);
    }

    /// <summary>The decision itself, from system.tables' engine and engine_full and system.merge_tree_settings' TSV.</summary>
    public static DeliveryGuarantee Decide(string engine, string engineFull, string mergeTreeDefaults, bool checkpoints, bool tokens, bool hasOffsetColumn)
    {
        var warnings = new List<string>();
        if (!checkpoints)
            return new(false, "at-least-once: checkpoints are off (Ingest:Checkpoints:Enabled=false); a crash replays from Kafka's committed offsets", warnings);
        var replicated = engine.StartsWith("Replicated", StringComparison.Ordinal);
        var setting = replicated ? "replicated_deduplication_window" : "non_replicated_deduplication_window";
        var window = TableSetting(engineFull, setting) ?? DefaultSetting(mergeTreeDefaults, setting) ?? 0;
        if (!engine.EndsWith("MergeTree", StringComparison.Ordinal))
            return new(false, $"at-least-once: {engine} tables do not deduplicate blocks; insert into the local Replicated*MergeTree tables for exactly-once", warnings);
        if (window <= 0)
        {
            return new(false, replicated
                ? "at-least-once: replicated_deduplication_window is 0 on this table"
                : "at-least-once: a non-replicated MergeTree deduplicates nothing here (non_replicated_deduplication_window is 0 or does not exist on this server); " +
                  "rows of a batch stored just before a crash are inserted again on replay", warnings);
        }
        if (window < RecommendedWindow)
            warnings.Add($"{setting} is {window} blocks: a replay more than {window} blocks (all partitions and workers writing the table) after the crash is not deduplicated; raise it to {RecommendedWindow} or more");
        if (!hasOffsetColumn && !tokens)
            warnings.Add("the table has no offset provenance column (_offset): two batches with byte-identical rows in the deduplication window would be taken for one; add _partition and _offset columns");
        return new(true, $"exactly-once: {engine} drops a replayed block ({(tokens ? "insert_deduplication_token per batch" : "block checksums")}, deduplication window {window} blocks)", warnings);
    }

    private static int? TableSetting(string engineFull, string name)
    {
        var m = SettingPattern().Matches(engineFull).FirstOrDefault(m => m.Groups[1].Value == name);
        return m is null ? null : int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
    }

    private static int? DefaultSetting(string tsv, string name)
    {
        foreach (var line in tsv.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            if (f.Length == 2 && f[0] == name && int.TryParse(f[1], CultureInfo.InvariantCulture, out var v)) return v;
        }
        return null;
    }

    [GeneratedRegex(@"\b(\w+_deduplication_window)\s*=\s*(\d+)")]
    private static partial Regex SettingPattern();
}

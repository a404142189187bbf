using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>Where a partition stands: the offset range of its last batch and whether that batch is known stored.</summary>
internal enum CheckpointState : byte
{
    /// <summary>Written before the batch's INSERT: the rows may or may not be stored; replay the exact range.</summary>
    Pending = 1,

    /// <summary>Written after ClickHouse acknowledged the INSERT: resume after the range.</summary>
    Committed = 2,
}

internal readonly record struct Checkpoint(long FirstOffset, long LastOffset, CheckpointState State, ulong Version, string Members)
{
    /// <summary>Where consumption resumes: the start of a pending range (it is replayed), or after a committed one.</summary>
    public long ResumeOffset => State == CheckpointState.Pending ? FirstOffset : LastOffset + 1;
}

/// <summary>One row to write: a batch's range in a state, with the version that orders it.</summary>
internal readonly record struct CheckpointRow(TopicPartition Partition, long FirstOffset, long LastOffset, CheckpointState State, int Rows, ulong Version, string Members)
{
    /// <summary>Written before the group's INSERT, with the group's members so any member's next owner can rebuild it.</summary>
    public static CheckpointRow Pending(PartitionBatch b, ulong version, string members) =>
        new(b.Partition, b.FirstOffset, b.LastOffset, CheckpointState.Pending, b.Rows.Rows, version, members);

    /// <summary>Written after the INSERT was acknowledged; the members are not needed any more.</summary>
    public static CheckpointRow Committed(PartitionBatch b, ulong version) =>
        new(b.Partition, b.FirstOffset, b.LastOffset, CheckpointState.Committed, b.Rows.Rows, version, "");
}

/// <summary>The checkpoint table: one row per write, newest <c>version</c> wins per (consumer group, target table,
/// topic, partition). It lives in the target's database, so any backup of the data holds the positions it matches
/// (docs/exactly-once.md). ClickHouse is the source of truth: a partition resumes from here, not from Kafka's
/// committed offset.</summary>
internal sealed class CheckpointStore : ICheckpointStore
{
    private static readonly MediaTypeHeaderValue Tsv = new("text/tab-separated-values");
    private readonly ClickHouseTarget _target;
    private readonly string _group;
    private readonly string _worker = $"{Environment.MachineName}/{Environment.ProcessId}";

    public CheckpointStore(ClickHouseTarget target, string table, string consumerGroup)
    {
        _target = target;
        Table = table;
        _group = consumerGroup;
    }

    /// <summary>"database.table".</summary>
    public string Table { get; }

    /// <summary>The statement that creates the table; <paramref name="engine"/> null picks the engine after the target's.</summary>
    public static string CreateStatement(string table, string? engine, bool replicated)
    {
        engine ??= ClickHouseText.VersionedEngine(table, replicated);
        return $"""
            CREATE TABLE IF NOT EXISTS {table}
            (
                consumer_group String,
                target_table String,
                topic String,
                partition UInt32,
                first_offset Int64,
                last_offset Int64,
                state Enum8('pending' = 1, 'committed' = 2),
                rows UInt64,
                worker String,
                updated_at DateTime,
                version UInt64,
                members String
            )
            ENGINE = {engine}
            ORDER BY (consumer_group, target_table, topic, partition)
            """;
    }

    /// <summary>Creates the table when missing, replicated when the target is, on every configured endpoint: each
    /// replica the worker may fail over to needs it. Returns the endpoints where that failed (e.g. down at start);
    /// when it failed everywhere, keeps trying until one endpoint takes it.</summary>
    public async Task<IReadOnlyList<string>> EnsureAsync(string? engine, bool replicated, CancellationToken ct)
    {
        var sql = CreateStatement(Table, engine, replicated);
        var failures = await _target.ExecuteOnEveryEndpointAsync(sql, ct).ConfigureAwait(false);
        if (failures.Count < _target.EndpointCount) return failures;
        // Nowhere yet: keep trying (failover, backoff) like an INSERT would; a non-retryable refusal throws.
        await _target.RunAsync($"creation of {Table}", c => c.ExecuteAsync(sql, null, CancellationToken.None), ct).ConfigureAwait(false);
        return [];
    }

    /// <summary>The newest checkpoint of each of <paramref name="partitions"/> that has one.</summary>
    public async Task<Dictionary<TopicPartition, Checkpoint>> LoadAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct)
    {
        if (partitions.Count == 0) return [];
        var wanted = partitions.ToHashSet();
        var all = await ReadGroupAsync(sql => _target.QueryAsync(sql, ct), Table, _group, _target.Table, [.. partitions.Select(p => p.Topic).Distinct()]).ConfigureAwait(false);
        return all.Where(kv => wanted.Contains(kv.Key)).ToDictionary();
    }

    /// <summary>The newest checkpoint of every partition of <paramref name="topics"/> (all topics when null) that
    /// <paramref name="group"/> wrote for <paramref name="targetTable"/> into <paramref name="table"/>, read through
    /// <paramref name="query"/> (this region's target, or a replica of the other region's subcluster).</summary>
    public static async Task<Dictionary<TopicPartition, Checkpoint>> ReadGroupAsync(Func<string, Task<string>> query, string table, string group, string targetTable,
        IReadOnlyCollection<string>? topics = null)
    {
        var topicFilter = topics is null ? "" : $" AND topic IN ({string.Join(", ", topics.Select(ClickHouseText.Quote))})";
        var text = await query($"""
            SELECT topic, partition, argMax(first_offset, version), argMax(last_offset, version), argMax(toUInt8(state), version), max(version), argMax(members, version)
            FROM {table}
            WHERE consumer_group = {ClickHouseText.Quote(group)} AND target_table = {ClickHouseText.Quote(targetTable)}{topicFilter}
            GROUP BY topic, partition
            FORMAT TSV
            """).ConfigureAwait(false);
        var result = new Dictionary<TopicPartition, Checkpoint>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            var tp = new TopicPartition(ClickHouseText.UnescapeTsv(f[0]), new Partition(int.Parse(f[1], CultureInfo.InvariantCulture)));
            result[tp] = new Checkpoint(
                long.Parse(f[2], CultureInfo.InvariantCulture),
                long.Parse(f[3], CultureInfo.InvariantCulture),
                (CheckpointState)byte.Parse(f[4], CultureInfo.InvariantCulture),
                ulong.Parse(f[5], CultureInfo.InvariantCulture),
                f.Length > 6 ? ClickHouseText.UnescapeTsv(f[6]) : "");
        }
        return result;
    }

    /// <summary>Writes <paramref name="rows"/> in one INSERT. Not deduplicated: a retried write is an identical
    /// row, harmless for ReplacingMergeTree.</summary>
    public Task WriteAsync(IReadOnlyList<CheckpointRow> rows, CancellationToken stopping)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder(rows.Sum(r => 128 + r.Members.Length));
        foreach (var r in rows)
        {
            sb.Append(ClickHouseText.EscapeTsv(_group)).Append('\t').Append(ClickHouseText.EscapeTsv(_target.Table)).Append('\t').Append(ClickHouseText.EscapeTsv(r.Partition.Topic)).Append('\t')
              .Append(r.Partition.Partition.Value).Append('\t').Append(r.FirstOffset).Append('\t').Append(r.LastOffset).Append('\t')
              .Append(r.State == CheckpointState.Pending ? "pending" : "committed").Append('\t').Append(r.Rows).Append('\t').Append(ClickHouseText.EscapeTsv(_worker)).Append('\t')
              .Append(now).Append('\t').Append(r.Version).Append('\t').Append(ClickHouseText.EscapeTsv(r.Members)).Append('\n');
        }
        var body = sb.ToString();
        return _target.RunAsync($"checkpoint write of {rows.Count} rows into {Table}", async client =>
        {
            using var content = new StringContent(body, Encoding.UTF8);
            content.Headers.ContentType = Tsv;
            await client.InsertAsync(Table, "TabSeparated", content, NoDedup, CancellationToken.None).ConfigureAwait(false);
        }, stopping);
    }

    private static readonly Dictionary<string, string> NoDedup = new() { ["insert_deduplicate"] = "0" };
}

using System.Buffers;
using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack.Chdb;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;

namespace Ingest.IntegrationTests.Checkpoints;

/// <summary>Replay identity on modern ClickHouse (chDB 26.7): groups of our batches' Native blocks, inserted with
/// exactly the settings the pipeline sends (<see cref="ReplayIdentity"/>), replayed; and the server facts behind the
/// design (a member replayed alone is a different block; identical rows collide without a token).</summary>
public sealed class ModernDeduplicationChdbTests
{
    private static readonly string Database = $"dedup_{Guid.NewGuid():N}";
    private static int _tables;
    private readonly Chdb _chdb = Chdb.Shared;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"ingest-dedup-{Environment.ProcessId}");

    public ModernDeduplicationChdbTests()
    {
        Directory.CreateDirectory(_dir);
        _chdb.Query($"CREATE DATABASE IF NOT EXISTS {Database}");
    }

    [Fact]
    public void The_server_has_tokens_and_a_group_token_follows_from_its_members()
    {
        Assert.Equal("1\n", _chdb.Query(ReplayIdentity.TokenSupportQuery));
        var identity = new ReplayIdentity(true, "g.a", "db.t");
        var table = NewTable("SETTINGS non_replicated_deduplication_window = 100");
        var a = Batch(table, 0, 0, [1, 2, 3]);
        var c = Batch(table, 1, 0, [4]);
        var members = ReplayIdentity.Members([a, c]);
        Assert.Equal("events:0:0-2,events:1:0-0", members);
        Assert.Equal([(a.Partition, 0L, 2L), (c.Partition, 0L, 0L)], ReplayIdentity.ParseMembers(members));
        var token = identity.SettingsFor(members)["insert_deduplication_token"];
        Assert.StartsWith("ingest:g.a:db.t:", token, StringComparison.Ordinal);
        Assert.Equal(token, identity.SettingsFor("events:0:0-2,events:1:0-0")["insert_deduplication_token"]);
        Assert.NotEqual(token, identity.SettingsFor("events:1:0-0,events:0:0-2")["insert_deduplication_token"]);
        Assert.Equal("1048545", identity.SettingsFor(members)["min_insert_block_size_rows"]);
    }

    [Fact]
    public void A_group_replayed_whole_is_dropped_and_groups_with_identical_rows_are_kept()
    {
        var identity = new ReplayIdentity(true, "g.a", "db.t");
        var table = NewTable("SETTINGS non_replicated_deduplication_window = 100");
        var a = Batch(table, 0, 0, [1, 2, 3]);
        var c = Batch(table, 1, 0, [4, 5, 6]);
        var b = Batch(table, 0, 3, [1, 2, 3]); // the next range of partition 0, byte-identical rows to a
        Insert(table, [a, c], identity.SettingsFor(ReplayIdentity.Members([a, c])));
        Insert(table, [b], identity.SettingsFor(ReplayIdentity.Members([b])));
        Assert.Equal("9\n", _chdb.Query($"SELECT count() FROM {table}"));

        // A crash after the INSERTs and before "committed": both groups replayed whole, in their recorded order.
        Insert(table, [b], identity.SettingsFor(ReplayIdentity.Members([b])));
        Insert(table, [a, c], identity.SettingsFor(ReplayIdentity.Members([a, c])));
        Assert.Equal("9\n", _chdb.Query($"SELECT count() FROM {table}"));
    }

    [Fact]
    public void Without_a_token_identical_rows_in_another_group_are_taken_for_a_replay()
    {
        // Why checksum mode (18.16) wants _partition/_offset columns: the second group is silently dropped.
        var identity = new ReplayIdentity(false, "g.a", "db.t");
        var table = NewTable("SETTINGS non_replicated_deduplication_window = 100");
        var a = Batch(table, 0, 0, [1, 2, 3]);
        var b = Batch(table, 0, 3, [1, 2, 3]);
        Insert(table, [a], identity.SettingsFor(ReplayIdentity.Members([a])));
        Insert(table, [b], identity.SettingsFor(ReplayIdentity.Members([b])));
        Assert.Equal("3\n", _chdb.Query($"SELECT count() FROM {table}"));
    }

    [Fact]
    public void A_member_replayed_alone_is_not_recognised_so_replays_rebuild_the_whole_group()
    {
        var identity = new ReplayIdentity(false, "g.a", "db.t");
        var table = NewTable("SETTINGS non_replicated_deduplication_window = 100");
        var a = Batch(table, 0, 0, [1, 2, 3]);
        var c = Batch(table, 1, 0, [4, 5, 6]);
        Insert(table, [a, c], identity.SettingsFor(ReplayIdentity.Members([a, c])));
        Insert(table, [a, c], identity.SettingsFor(ReplayIdentity.Members([a, c])));
        Assert.Equal("6\n", _chdb.Query($"SELECT count() FROM {table}"));
        Insert(table, [a], identity.SettingsFor(ReplayIdentity.Members([a]))); // one member alone: a new block
        Assert.Equal("9\n", _chdb.Query($"SELECT count() FROM {table}"));
    }

    [Fact]
    public void The_guarantee_read_from_the_server_matches_what_replays_do()
    {
        var identity = new ReplayIdentity(true, "g.a", "db.t");
        foreach (var (settings, exactlyOnce) in new[] { ("", false), ("SETTINGS non_replicated_deduplication_window = 1000", true) })
        {
            var table = NewTable(settings);
            var name = table[(table.IndexOf('.', StringComparison.Ordinal) + 1)..];
            var row = _chdb.Query($"SELECT engine, engine_full FROM system.tables WHERE database = '{Database}' AND name = '{name}'").TrimEnd('\n').Split('\t');
            var defaults = _chdb.Query("SELECT name, value FROM system.merge_tree_settings WHERE name IN ('replicated_deduplication_window', 'non_replicated_deduplication_window')");
            var guarantee = DeliveryGuarantee.Decide(row[0], row[1], defaults, checkpoints: true, tokens: true, hasOffsetColumn: false);
            Assert.Equal(exactlyOnce, guarantee.ExactlyOnce);

            var a = Batch(table, 0, 0, [1, 2, 3]);
            Insert(table, [a], identity.SettingsFor(ReplayIdentity.Members([a])));
            Insert(table, [a], identity.SettingsFor(ReplayIdentity.Members([a])));
            Assert.Equal(exactlyOnce ? "3\n" : "6\n", _chdb.Query($"SELECT count() FROM {table}"));
        }
    }

    private string NewTable(string settings)
    {
        var table = $"{Database}.t{Interlocked.Increment(ref _tables)}";
        _chdb.Query($"CREATE TABLE {table} (id UInt64, s String) ENGINE = MergeTree ORDER BY id {settings}");
        return table;
    }

    /// <summary>A pipeline batch of partition <paramref name="partition"/> from offset <paramref name="first"/> on,
    /// one JSON message per id, decoded against the table's schema as the worker does.</summary>
    private PartitionBatch Batch(string table, int partition, long first, long[] ids)
    {
        var schema = TableSchema.Parse(table, _chdb.Query($"DESCRIBE TABLE {table}"));
        var batch = new PartitionBatch(new TopicPartition("events", partition),
            new NativeRowBuffer(new ColumnBatch(schema), new JsonRowDecoder(schema, new MappingOptions())));
        for (var i = 0; i < ids.Length; i++)
            Assert.Null(batch.Add(first + i, Encoding.UTF8.GetBytes($"{{\"id\":{ids[i]},\"s\":\"row {ids[i]}\"}}")));
        return batch;
    }

    /// <summary>One INSERT of the batches' blocks, as the pipeline's request body, with <paramref name="settings"/>.</summary>
    private void Insert(string table, PartitionBatch[] batches, IReadOnlyDictionary<string, string> settings)
    {
        var body = new ArrayBufferWriter<byte>();
        foreach (var b in batches) b.Rows.WriteTo(body);
        var file = Path.Combine(_dir, $"{Guid.NewGuid():N}.native");
        File.WriteAllBytes(file, body.WrittenSpan.ToArray());
        var list = string.Join(", ", settings.Select(kv => $"{kv.Key} = {(long.TryParse(kv.Value, out _) ? kv.Value : $"'{kv.Value}'")}"));
        _chdb.Query($"INSERT INTO {table} FROM INFILE '{file}' SETTINGS {list} FORMAT Native");
        File.Delete(file);
    }
}

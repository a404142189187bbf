using System.Buffers;
using Confluent.Kafka;
using Ingest.LocalStack.Chdb;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;

namespace Ingest.IntegrationTests.Checkpoints;

/// <summary>_topic, _partition, _offset and _timestamp filled from the Kafka message, read back from chDB 26.7
/// (which has every type they may use).</summary>
public sealed class ProvenanceColumnsTests
{
    private static readonly string Database = $"prov_{Guid.NewGuid():N}";
    private readonly Chdb _chdb = Chdb.Shared;

    public ProvenanceColumnsTests() => _chdb.Query($"CREATE DATABASE IF NOT EXISTS {Database}");

    [Fact]
    public void Provenance_columns_take_the_message_coordinates_not_JSON_fields_of_the_same_name()
    {
        var table = $"{Database}.t1";
        _chdb.Query($"CREATE TABLE {table} (id UInt64, _topic LowCardinality(String), _partition UInt16, _offset Int64, _timestamp DateTime64(3, 'UTC')) ENGINE = Memory");
        var batch = NewBatch(table, new MappingOptions(), 7);
        // A JSON field called _offset is not the provenance column's source: the message's offset is.
        Assert.Null(batch.Add(41, 1_764_115_200_123, """{"id":1,"_offset":5,"_topic":"fake"}"""u8));
        Assert.Null(batch.Add(42, 1_764_115_201_456, """{"id":2}"""u8));
        Insert(table, batch);

        Assert.Equal("1\tevents.v1\t7\t41\t2025-11-26 00:00:00.123\n2\tevents.v1\t7\t42\t2025-11-26 00:00:01.456\n",
            _chdb.Query($"SELECT id, _topic, _partition, _offset, _timestamp FROM {table} ORDER BY id"));
    }

    [Fact]
    public void Renamed_provenance_columns_and_a_DateTime_timestamp()
    {
        var table = $"{Database}.t2";
        _chdb.Query($"CREATE TABLE {table} (id UInt64, kafka_offset UInt64, kafka_time DateTime('UTC'), _offset String) ENGINE = Memory");
        var mapping = new MappingOptions { Provenance = { Offset = "kafka_offset", Timestamp = "kafka_time", Topic = "", Partition = "" } };
        var batch = NewBatch(table, mapping, 0);
        Assert.Null(batch.Add(9, 1_764_115_200_999, """{"id":1,"_offset":"from json"}"""u8));
        Insert(table, batch);

        Assert.Equal("1\t9\t2025-11-26 00:00:00\tfrom json\n", _chdb.Query($"SELECT id, kafka_offset, kafka_time, _offset FROM {table}"));
    }

    [Fact]
    public void A_partition_the_column_cannot_hold_rejects_the_message_naming_the_column()
    {
        var table = $"{Database}.t3";
        _chdb.Query($"CREATE TABLE {table} (id UInt64, _partition UInt8) ENGINE = Memory");
        var batch = NewBatch(table, new MappingOptions(), 300);
        var error = batch.Add(0, 0, """{"id":1}"""u8);
        Assert.NotNull(error);
        Assert.Contains("provenance column '_partition' cannot hold 300", error, StringComparison.Ordinal);
        Assert.Equal(0, batch.Rows.Rows);
    }

    private PartitionBatch NewBatch(string table, MappingOptions mapping, int partition)
    {
        var schema = TableSchema.Parse(table, _chdb.Query($"DESCRIBE TABLE {table}"));
        return new PartitionBatch(new TopicPartition("events.v1", partition), new NativeRowBuffer(new ColumnBatch(schema), new JsonRowDecoder(schema, mapping)));
    }

    private void Insert(string table, PartitionBatch batch)
    {
        var body = new ArrayBufferWriter<byte>();
        batch.Rows.WriteTo(body);
        var file = Path.Combine(Path.GetTempPath(), $"prov-{Guid.NewGuid():N}.native");
        File.WriteAllBytes(file, body.WrittenSpan.ToArray());
        try
        {
            _chdb.Query($"INSERT INTO {table} FROM INFILE '{file}' FORMAT Native");
        }
        finally
        {
            File.Delete(file);
        }
    }
}

using System.Buffers;
using System.Text;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Types;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline.Tests.Decoding;

public sealed class JsonRowDecoderTests
{
    // DESCRIBE TABLE output: name, type, default_type, default_expression
    private static readonly TableSchema Schema = TableSchema.Parse("db.events",
        "ts\tDateTime\t\t\n" +
        "user_id\tUInt64\t\t\n" +
        "event\tString\t\t\n" +
        "value\tFloat64\t\t\n" +
        "tags\tArray(String)\t\t\n" +
        "country\tString\t\t\n" +
        "source\tString\tDEFAULT\t'kafka'\n" +
        "day\tDate\tMATERIALIZED\ttoDate(ts)\n");

    [Fact]
    public void Schema_leaves_out_materialized_columns_and_keeps_default_kinds()
    {
        Assert.Equal(["ts", "user_id", "event", "value", "tags", "country", "source"], Schema.Columns.Select(c => c.Name));
        Assert.Equal(DefaultKind.Default, Schema.Columns[6].Default);
        Assert.Equal("'kafka'", Schema.Columns[6].DefaultExpression);
    }

    [Fact]
    public void Unsupported_types_fail_at_schema_load_naming_the_column()
    {
        var e = Assert.Throws<NotSupportedException>(() => TableSchema.Parse("db.t", "a\tUInt8\t\t\nshape\tPolygon\t\t\n"));
        Assert.Contains("shape", e.Message, StringComparison.Ordinal);
        Assert.Contains("Polygon", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decodes_fields_by_name_in_any_order_and_defaults_missing_ones()
    {
        var decoder = new JsonRowDecoder(Schema, new MappingOptions());
        using var batch = new ColumnBatch(Schema);
        Assert.Null(decoder.Decode("""{"ts":"2026-01-02 03:04:05","user_id":7,"event":"click","value":1.5,"tags":["a","b"],"extra":{"x":[1]}}"""u8, batch));
        Assert.Null(decoder.Decode("""{"event":"view","user_id":8}"""u8, batch));

        Assert.Equal(2, batch.Rows);
        Assert.All(batch.Columns, c => Assert.Equal(2, c.Count));
        var native = Native(batch);
        // 'source' (DEFAULT 'kafka') never had a value: left out so the server fills its expression.
        Assert.DoesNotContain("source", native, StringComparison.Ordinal);
        Assert.Contains("country", native, StringComparison.Ordinal);
    }

    [Fact]
    public void Provenance_columns_take_the_message_source_and_a_partition_out_of_range_is_rejected_naming_the_column()
    {
        var schema = TableSchema.Parse("db.p", "seq\tUInt64\t\t\n_topic\tString\t\t\n_partition\tUInt8\t\t\n_offset\tUInt64\t\t\n_timestamp\tDateTime64(3)\t\t\n");
        var decoder = new JsonRowDecoder(schema, new MappingOptions());
        using var batch = new ColumnBatch(schema);
        Assert.Null(decoder.Decode("""{"seq":1}"""u8, batch, new MessageSource("events", 7, 1_234_567_890_123, 1_700_000_000_123)));
        Assert.Equal((byte)7, ((UInt8Column)batch.Columns[2])[0]);
        Assert.Equal(1_234_567_890_123UL, ((UInt64Column)batch.Columns[3])[0]);
        Assert.Contains("events", Native(batch), StringComparison.Ordinal);

        // 300 does not fit a UInt8: the row is rejected naming the column, and the batch keeps only its first row.
        var error = decoder.Decode("""{"seq":2}"""u8, batch, new MessageSource("events", 300, 5, 0));
        Assert.NotNull(error);
        Assert.Contains("provenance column '_partition' cannot hold 300", error, StringComparison.Ordinal);
        Assert.Equal(1, batch.Rows);
        Assert.All(batch.Columns, c => Assert.Equal(1, c.Count));
    }

    [Fact]
    public void Maps_nested_paths_and_renames()
    {
        var mapping = new MappingOptions { Columns = { ["country"] = "geo.country", ["user_id"] = "user.id" } };
        var decoder = new JsonRowDecoder(Schema, mapping);
        using var batch = new ColumnBatch(Schema);
        Assert.Null(decoder.Decode("""{"user":{"id":42,"name":"x"},"geo":{"country":"DE","city":"B"},"event":"e"}"""u8, batch));
        Assert.Equal(1, batch.Rows);
        var native = Native(batch);
        Assert.Contains("DE", native, StringComparison.Ordinal);
        Assert.DoesNotContain("city", native, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"user_id":"abc"}""", "field 'user_id'")]
    [InlineData("""{"user_id":-1}""", "field 'user_id'")]
    [InlineData("""{"user_id":18446744073709551616}""", "field 'user_id'")]
    [InlineData("""{"tags":["a",{"b":1}]}""", "field 'tags'")]
    [InlineData("""{"event":"x","event":"y"}""", "appears twice")]
    [InlineData("""{"event":"x" """, "malformed JSON")]
    [InlineData("""[1,2]""", "not a JSON object")]
    [InlineData("""{"a":1} {"b":2}""", "malformed JSON")]
    [InlineData("", "empty message")]
    public void A_bad_message_is_rejected_with_a_reason_and_leaves_the_batch_intact(string message, string reason)
    {
        var decoder = new JsonRowDecoder(Schema, new MappingOptions());
        using var batch = new ColumnBatch(Schema);
        Assert.Null(decoder.Decode("""{"user_id":1,"event":"ok","tags":["t"]}"""u8, batch));
        var before = Native(batch);

        var error = decoder.Decode(Encoding.UTF8.GetBytes(message), batch);

        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Equal(1, batch.Rows);
        Assert.All(batch.Columns, c => Assert.Equal(1, c.Count));
        Assert.Equal(before, Native(batch));
        Assert.Null(decoder.Decode("""{"user_id":2,"event":"ok2"}"""u8, batch));
        Assert.Equal(2, batch.Rows);
    }

    [Fact]
    public void Strict_mapping_rejects_unknown_fields_by_name()
    {
        var decoder = new JsonRowDecoder(Schema, new MappingOptions { Strict = true });
        using var batch = new ColumnBatch(Schema);
        var error = decoder.Decode("""{"user_id":1,"surprise":true}"""u8, batch);
        Assert.Equal("unknown field 'surprise' (strict mapping rejects fields no column takes)", error);
        Assert.Equal(0, batch.Rows);
    }

    [Fact]
    public void A_mapping_to_a_missing_column_is_a_configuration_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new JsonRowDecoder(Schema, new MappingOptions { Columns = { ["nope"] = "a.b" } }));
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
    }

    private static string Native(ColumnBatch batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        batch.WriteNative(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

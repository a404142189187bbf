using System.Buffers;
using Ingest.Pipeline.ClickHouse.Native;
using Ingest.Pipeline.ClickHouse.Types;
using static Ingest.Pipeline.Tests.Native.JsonAppend;

namespace Ingest.Pipeline.Tests.Native;

public sealed class CompositeColumnTests
{
    [Fact]
    public void Nullable_writes_the_null_map_then_the_values()
    {
        using var column = Create("Nullable(UInt16)");
        AppendRows(column, "[1, null, 3]");
        column.AppendDefault();
        Assert.Equal(Hex("00 01 00 01  0100 0000 0300 0000"), Bytes(column));
        Fails(column, "70000");
        Assert.Equal(4, column.Count);
    }

    [Fact]
    public void Arrays_write_cumulative_offsets_then_elements_and_nest()
    {
        using var column = Create("Array(Array(UInt8))");
        AppendRows(column, "[[[1, 2], []], [], null, [[3]]]");
        Assert.Equal(Hex(
            "0200000000000000 0200000000000000 0200000000000000 0300000000000000" + // outer ends
            "0200000000000000 0200000000000000 0300000000000000" + // inner ends
            "010203"), Bytes(column));
    }

    [Fact]
    public void A_bad_element_rolls_back_the_whole_nested_value()
    {
        using var column = Create("Array(Array(Nullable(String)))");
        Append(column, "[[\"a\"], [null]]");
        var before = Bytes(column);
        Fails(column, "[[\"b\", \"c\"], [\"d\", {}]]");
        Fails(column, "[[\"b\"], 5]");
        Fails(column, "{}");
        Assert.Equal(before, Bytes(column));
        Append(column, "[[\"e\"]]");
        Assert.Equal(2, column.Count);
    }

    [Theory]
    [InlineData("Array(UInt8)", "[1, 2")]
    [InlineData("Map(String, UInt8)", "{\"a\": 1")]
    [InlineData("Map(String, UInt8)", "{\"a\":")]
    [InlineData("Tuple(UInt8, UInt8)", "[1")]
    public void Input_ending_inside_a_container_is_rejected_not_shortened(string type, string partialJson)
    {
        using var column = Create(type);
        // A non-final reader returns false from Read() where more data is needed, instead of throwing.
        var reader = new System.Text.Json.Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(partialJson), isFinalBlock: false, state: default);
        Assert.True(reader.Read());
        try
        {
            column.AppendJson(ref reader);
            Assert.Fail("expected ColumnValueException");
        }
        catch (ColumnValueException e)
        {
            Assert.Contains("incomplete JSON value", e.Message, StringComparison.Ordinal);
        }
        Assert.Equal(0, column.Count);
        Assert.Equal(Bytes(Create(type)), Bytes(column));
    }

    [Fact]
    public void Maps_are_offsets_then_keys_then_values()
    {
        // chDB 26.7: map('a', 1, 'b', 2)::Map(String, UInt64).
        using var column = Create("Map(String, UInt64)");
        Append(column, "{\"a\": 1, \"b\": 2}");
        Assert.Equal(Hex("0200000000000000 0161 0162 0100000000000000 0200000000000000"), Bytes(column));
        Fails(column, "{\"c\": 1, \"d\": -1}");
        Fails(column, "[1]");
        Append(column, "{}");
        Append(column, "{\"\\u00e9\": \"7\"}");
        Assert.Equal(Hex("0200000000000000 0200000000000000 0300000000000000 0161 0162 02c3a9 0100000000000000 0200000000000000 0700000000000000"), Bytes(column));
    }

    [Fact]
    public void Map_keys_are_parsed_as_the_key_type()
    {
        using var column = Create("Map(UInt16, Array(String))");
        Append(column, "{\"513\": [\"x\"]}");
        Assert.Equal(Hex("0100000000000000 0102 0100000000000000 0178"), Bytes(column));
        Fails(column, "{\"x\": []}");
    }

    [Fact]
    public void Tuples_write_each_element_column_and_need_exactly_n_values()
    {
        using var column = Create("Tuple(UInt8, String)");
        AppendRows(column, "[[1, \"x\"], [2, \"\"]]");
        Assert.Equal(Hex("0102 0178 00"), Bytes(column));
        Assert.Contains("expected Tuple of 2 elements but got 1", Fails(column, "[3]").Message, StringComparison.Ordinal);
        Assert.Contains("but got more", Fails(column, "[3, \"y\", 4]").Message, StringComparison.Ordinal);
        Fails(column, "[300, \"y\"]");
        Fails(column, "[3, []]");
        Assert.Equal(2, column.Count);
    }

    [Fact]
    public void LowCardinality_state_prefixes_come_before_any_array_offsets()
    {
        using var column = Create("Array(LowCardinality(String))");
        Append(column, "[\"a\"]");
        Assert.Equal(Hex("0100000000000000 0100000000000000 0006000000000000 0200000000000000 00 0161 0100000000000000 01"), Bytes(column));
    }

    [Fact]
    public void Block_writer_writes_header_and_columns()
    {
        // ClickHouse 18.16 for SELECT toUUID('00112233-4455-6677-8899-aabbccddeeff') AS u FORMAT Native.
        using var column = Create("UUID");
        Append(column, "\"00112233-4455-6677-8899-aabbccddeeff\"");
        var writer = new ArrayBufferWriter<byte>();
        new NativeBlockWriter(["u"], [ColumnType.Parse("UUID")]).Write(writer, [column]);
        Assert.Equal(Hex("0101 0175 0455554944 7766554433221100 ffeeddccbbaa9988"), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Block_writer_rejects_ragged_columns()
    {
        using var a = Create("UInt8");
        using var b = Create("UInt8");
        a.AppendDefault();
        var writer = new NativeBlockWriter(["a", "b"], [ColumnType.Parse("UInt8"), ColumnType.Parse("UInt8")]);
        Assert.Throws<InvalidOperationException>(() => writer.Write(new ArrayBufferWriter<byte>(), [a, b]));
    }

    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]
    [InlineData(300UL, "ac02")]
    [InlineData(ulong.MaxValue, "ffffffffffffffffff01")]
    public void VarUInt_is_leb128(ulong value, string hex)
    {
        var writer = new ArrayBufferWriter<byte>();
        NativeWire.WriteVarUInt(writer, value);
        Assert.Equal(Hex(hex), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Defaults_per_type()
    {
        using var column = Create("Tuple(String, Nullable(UInt8), Array(UInt8), LowCardinality(Nullable(String)), Enum8('x' = 5), DateTime)");
        column.AppendDefault();
        // Every state prefix (here LowCardinality's keys version) precedes all data of the tuple.
        Assert.Equal(Hex("0100000000000000 00 01 00 0000000000000000 0006000000000000 0200000000000000 00 00 0100000000000000 00 05 00000000"), Bytes(column));
    }
}

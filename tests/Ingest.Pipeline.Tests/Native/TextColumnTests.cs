using System.Text;
using static Ingest.Pipeline.Tests.Native.JsonAppend;

namespace Ingest.Pipeline.Tests.Native;

public sealed class TextColumnTests
{
    private static byte[] NativeString(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        var prefix = new List<byte>();
        var n = (ulong)utf8.Length;
        while (n >= 0x80)
        {
            prefix.Add((byte)(n | 0x80));
            n >>= 7;
        }
        prefix.Add((byte)n);
        return [.. prefix, .. utf8];
    }

    [Theory]
    [InlineData("\"plain\"", "plain")]
    [InlineData("\"\"", "")]
    [InlineData("\"a\\\"b\\\\c\\/d\\n\\t\"", "a\"b\\c/d\n\t")]
    [InlineData("\"\\u00e9\\u2713 \\ud83d\\ude00\"", "é✓ 😀")]
    [InlineData("\"ünï©ødé ✓ 😀\"", "ünï©ødé ✓ 😀")]
    [InlineData("12.50", "12.50")]
    [InlineData("-1e5", "-1e5")]
    [InlineData("true", "true")]
    [InlineData("null", "")]
    public void Strings_are_unescaped_utf8(string json, string expected)
    {
        using var column = Create("String");
        Append(column, json);
        Assert.Equal(NativeString(expected), Bytes(column));
        using var segmented = Create("String");
        AppendSegmented(segmented, json);
        Assert.Equal(NativeString(expected), Bytes(segmented));
    }

    [Fact]
    public void Long_strings_use_multi_byte_lengths()
    {
        var text = new string('x', 10_000) + "é";
        using var column = Create("String");
        Append(column, "\"" + text + "\"");
        Append(column, "\"\\n" + text + "\"");
        Assert.Equal([.. NativeString(text), .. NativeString("\n" + text)], Bytes(column));
        Assert.Equal(0x92, Bytes(column)[0]);
    }

    [Fact]
    public void Containers_are_not_strings()
    {
        using var column = Create("String");
        Append(column, "\"a\"");
        Assert.Contains("expected String but got object", Fails(column, "{\"a\":1}").Message, StringComparison.Ordinal);
        Assert.Contains("expected String but got array", Fails(column, "[]").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FixedString_pads_with_zeros_and_rejects_longer_values()
    {
        using var column = Create("FixedString(4)");
        AppendRows(column, "[\"ab\", \"abcd\", \"\", null, \"\\u00e9\"]");
        Assert.Equal(Hex("61620000 61626364 00000000 00000000 c3a90000"), Bytes(column));
        Assert.Contains("5 bytes is longer than 4", Fails(column, "\"abcde\"").Message, StringComparison.Ordinal);
        Assert.Contains("expected FixedString(4)", Fails(column, "\"ééé\"").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LowCardinality_matches_clickhouse_dictionary_layout()
    {
        // Bytes ClickHouse 18.16 and chDB 26.7 both return for CAST(arrayJoin(['a','b','a','']) AS LowCardinality(String)).
        using var column = Create("LowCardinality(String)");
        AppendRows(column, "[\"a\", \"b\", \"a\", \"\"]");
        Assert.Equal(Hex("0100000000000000 0006000000000000 0300000000000000 00 0161 0162 0400000000000000 01020100"), Bytes(column));
    }

    [Fact]
    public void LowCardinality_nullable_reserves_the_null_slot()
    {
        // ... and for CAST(arrayJoin(['a', NULL, 'a', '']) AS LowCardinality(Nullable(String))).
        using var column = Create("LowCardinality(Nullable(String))");
        AppendRows(column, "[\"a\", null, \"a\", \"\"]");
        Assert.Equal(Hex("0100000000000000 0006000000000000 0300000000000000 00 00 0161 0400000000000000 02000201"), Bytes(column));
    }

    [Fact]
    public void LowCardinality_widens_indexes_past_256_keys_and_unescapes_keys()
    {
        using var column = Create("LowCardinality(String)");
        for (var i = 0; i < 300; i++) Append(column, $"\"k\\u0041{i}\"");
        Append(column, "\"kA0\"");
        Assert.Equal(301, column.Count);
        var bytes = Bytes(column);
        Assert.Equal(0x0601, BitConverter.ToInt64(bytes, 8));
        Assert.Equal(301, BitConverter.ToInt64(bytes, 16));
        // The last row reuses key 1 ("kA0"), as a UInt16 index at the very end.
        Assert.Equal(Hex("0100"), bytes[^2..]);
        Assert.Equal(301, BitConverter.ToInt64(bytes, bytes.Length - 8 - 301 * 2));
    }

    [Fact]
    public void LowCardinality_rollback_forgets_keys_only_the_rolled_back_rows_added()
    {
        using var expected = Create("Array(LowCardinality(String))");
        Append(expected, "[\"a\", \"b\"]");
        using var column = Create("Array(LowCardinality(String))");
        Append(column, "[\"a\", \"b\"]");
        Fails(column, "[\"c\", \"a\", {}]");
        Assert.Equal(Bytes(expected), Bytes(column));
        Append(column, "[\"c\"]");
        Append(expected, "[\"c\"]");
        Assert.Equal(Bytes(expected), Bytes(column));
    }

    [Fact]
    public void LowCardinality_writes_only_the_prefix_for_no_rows()
    {
        using var column = Create("LowCardinality(String)");
        Assert.Equal(Hex("0100000000000000"), Bytes(column));
        Append(column, "\"x\"");
        column.Clear();
        Assert.Equal(Hex("0100000000000000"), Bytes(column));
    }

    [Fact]
    public void Enums_accept_names_and_declared_values()
    {
        using var column = Create("Enum8('a' = 1, 'b' = -2, 'é\\'' = 127)");
        AppendRows(column, "[\"a\", \"b\", -2, \"\\u00e9'\", null, \"127\"]");
        // null is the default: the smallest value (-2), not the first declared.
        Assert.Equal(Hex("01 fe fe 7f fe 7f"), Bytes(column));
        Assert.Contains("not a declared name or value", Fails(column, "\"c\"").Message, StringComparison.Ordinal);
        Fails(column, "3");
        Fails(column, "\"A\"");
        using var defaulted = Create("Enum8('hi' = 9, 'lo' = 3)");
        defaulted.AppendDefault();
        Append(defaulted, "null");
        Assert.Equal(Hex("03 03"), Bytes(defaulted));
        using var wide = Create("Enum16('x' = -1000, 'y' = 1000)");
        AppendRows(wide, "[\"y\", -1000]");
        Assert.Equal(Hex("e803 18fc"), Bytes(wide));
    }
}

using static Ingest.Pipeline.Tests.Native.JsonAppend;

namespace Ingest.Pipeline.Tests.Native;

public sealed class NumericColumnTests
{
    [Theory]
    [InlineData("UInt8", "0", "00")]
    [InlineData("UInt8", "255", "ff")]
    [InlineData("UInt8", "\"255\"", "ff")]
    [InlineData("UInt8", "-0", "00")]
    [InlineData("UInt16", "65535", "ffff")]
    [InlineData("UInt32", "4294967295", "ffffffff")]
    [InlineData("UInt64", "18446744073709551615", "ffffffffffffffff")]
    [InlineData("UInt64", "\"1\"", "0100000000000000")]
    [InlineData("Int8", "-128", "80")]
    [InlineData("Int8", "127", "7f")]
    [InlineData("Int16", "-32768", "0080")]
    [InlineData("Int32", "-2147483648", "00000080")]
    [InlineData("Int32", "258", "02010000")]
    [InlineData("Int64", "-9223372036854775808", "0000000000000080")]
    [InlineData("Int64", "9223372036854775807", "ffffffffffffff7f")]
    [InlineData("Int64", "null", "0000000000000000")]
    [InlineData("Float32", "1.5", "0000c03f")]
    [InlineData("Float32", "\"-2\"", "000000c0")]
    [InlineData("Float64", "0.1", "9a9999999999b93f")]
    [InlineData("Float64", "1e300", "9c7500883ce4377e")]
    [InlineData("Float64", "\"inf\"", "000000000000f07f")]
    [InlineData("Float64", "\"-inf\"", "000000000000f0ff")]
    [InlineData("Bool", "true", "01")]
    [InlineData("Bool", "false", "00")]
    [InlineData("Bool", "1", "01")]
    [InlineData("Bool", "\"false\"", "00")]
    public void Numbers_are_little_endian(string type, string json, string hex)
    {
        using var column = Create(type);
        Append(column, json);
        Assert.Equal(Hex(hex), Bytes(column));
        using var segmented = Create(type);
        AppendSegmented(segmented, json);
        Assert.Equal(Hex(hex), Bytes(segmented));
    }

    [Fact]
    public void Float_nan_is_accepted_as_text()
    {
        using var column = Create("Float64");
        Append(column, "\"nan\"");
        // ClickHouse's own NaN bits (SELECT nan FORMAT Native): positive quiet NaN.
        Assert.Equal(Hex("000000000000f87f"), Bytes(column));
        using var single = Create("Float32");
        Append(single, "\"nan\"");
        Assert.Equal(Hex("0000c07f"), Bytes(single));
    }

    [Theory]
    [InlineData("UInt8", "256", "out of range")]
    [InlineData("UInt8", "-1", "out of range")]
    [InlineData("UInt8", "1.5", "not an integer")]
    [InlineData("UInt8", "1e2", "not an integer")]
    [InlineData("UInt8", "\"abc\"", "not a number")]
    [InlineData("UInt8", "\"\"", "not a number")]
    [InlineData("UInt8", "\" 1\"", "not a number")]
    [InlineData("UInt8", "true", "expected UInt8 but got true")]
    [InlineData("UInt8", "[1]", "expected UInt8 but got array")]
    [InlineData("UInt8", "{}", "expected UInt8 but got object")]
    [InlineData("UInt64", "18446744073709551616", "out of range")]
    [InlineData("Int8", "128", "out of range")]
    [InlineData("Int8", "-129", "out of range")]
    [InlineData("Int32", "2147483648", "out of range")]
    [InlineData("Int64", "9223372036854775808", "out of range")]
    [InlineData("Int64", "-9223372036854775809", "out of range")]
    [InlineData("Float32", "1e39", "out of range")]
    [InlineData("Float64", "1e999", "out of range")]
    [InlineData("Float64", "\"1,5\"", "not a number")]
    [InlineData("Bool", "2", "expected true, false, 0 or 1")]
    [InlineData("Bool", "\"yes\"", "expected true, false, 0 or 1")]
    public void Bad_numbers_fail_clearly_and_leave_the_column_unchanged(string type, string json, string message)
    {
        using var column = Create(type);
        Append(column, "1");
        var e = Fails(column, json);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Contains($"expected {type}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_messages_truncate_long_input()
    {
        using var column = Create("Int32");
        var e = Fails(column, "\"" + new string('x', 100) + "\"");
        Assert.Contains(new string('x', 64) + "…", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 65), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Clear_keeps_the_column_usable_and_truncate_drops_rows()
    {
        using var column = Create("UInt16");
        AppendRows(column, "[1, 2, 3]");
        Assert.Equal(3, column.Count);
        column.RemoveLast();
        Assert.Equal(Hex("0100 0200"), Bytes(column));
        column.Clear();
        Assert.Equal(0, column.Count);
        Assert.Empty(Bytes(column));
        Append(column, "7");
        Assert.Equal(Hex("0700"), Bytes(column));
    }
}

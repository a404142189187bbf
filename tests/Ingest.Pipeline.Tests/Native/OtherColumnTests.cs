using static Ingest.Pipeline.Tests.Native.JsonAppend;

namespace Ingest.Pipeline.Tests.Native;

public sealed class OtherColumnTests
{
    [Theory]
    // ClickHouse 18.16 and chDB 26.7 both: two little-endian UInt64, high half first.
    [InlineData("\"00112233-4455-6677-8899-aabbccddeeff\"", "7766554433221100 ffeeddccbbaa9988")]
    [InlineData("\"00112233445566778899AABBCCDDEEFF\"", "7766554433221100 ffeeddccbbaa9988")]
    [InlineData("null", "0000000000000000 0000000000000000")]
    public void Uuid_layout(string json, string hex)
    {
        using var column = Create("UUID");
        Append(column, json);
        Assert.Equal(Hex(hex), Bytes(column));
    }

    [Theory]
    [InlineData("\"0011223-4455-6677-8899-aabbccddeeff0\"")]
    [InlineData("\"00112233-4455-6677-8899-aabbccddeefg\"")]
    [InlineData("\"\"")]
    [InlineData("1")]
    public void Bad_uuids_fail(string json)
    {
        using var column = Create("UUID");
        Assert.Contains("expected UUID", Fails(column, json).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("IPv4", "\"1.2.3.4\"", "04030201")]
    [InlineData("IPv4", "\"255.255.255.255\"", "ffffffff")]
    [InlineData("IPv4", "16909060", "04030201")]
    [InlineData("IPv6", "\"2001:db8::1\"", "20010db8000000000000000000000001")]
    [InlineData("IPv6", "\"::\"", "00000000000000000000000000000000")]
    [InlineData("IPv6", "\"::1\"", "00000000000000000000000000000001")]
    [InlineData("IPv6", "\"fe80::\"", "fe800000000000000000000000000000")]
    [InlineData("IPv6", "\"1:2:3:4:5:6:7:8\"", "00010002000300040005000600070008")]
    [InlineData("IPv6", "\"::ffff:1.2.3.4\"", "00000000000000000000ffff01020304")]
    [InlineData("IPv6", "\"1.2.3.4\"", "00000000000000000000ffff01020304")]
    public void Ip_addresses(string type, string json, string hex)
    {
        using var column = Create(type);
        Append(column, json);
        Assert.Equal(Hex(hex), Bytes(column));
    }

    [Theory]
    [InlineData("IPv4", "\"1.2.3\"")]
    [InlineData("IPv4", "\"1.2.3.256\"")]
    [InlineData("IPv4", "\"1.2.3.4.5\"")]
    [InlineData("IPv6", "\"1::2::3\"")]
    [InlineData("IPv6", "\"1:2:3:4:5:6:7:8:9\"")]
    [InlineData("IPv6", "\"12345::\"")]
    [InlineData("IPv6", "\"1:\"")]
    [InlineData("IPv6", "\"g::\"")]
    public void Bad_ip_addresses_fail(string type, string json)
    {
        using var column = Create(type);
        Fails(column, json);
    }

    [Theory]
    [InlineData("Decimal(9, 2)", "123.45", "39300000")]
    [InlineData("Decimal(9, 2)", "\"-123.4\"", "cccfffff")]
    [InlineData("Decimal(9, 2)", "1.5e2", "983a0000")]
    [InlineData("Decimal(9, 2)", "0.10000", "0a000000")]
    [InlineData("Decimal(9, 2)", "9999999.99", "ffc99a3b")]
    [InlineData("Decimal(18, 4)", "-0.0001", "ffffffffffffffff")]
    [InlineData("Decimal(18, 4)", "12345678901234.5678", "4ef330a64b9bb601")]
    [InlineData("Decimal(38, 0)", "99999999999999999999999999999999999999", "ffffffff3f228a097ac4865aa84c3b4b")]
    [InlineData("Decimal(38, 10)", "-1", "001cf4abfdffffff ffffffffffffffff")]
    [InlineData("Decimal(9, 2)", "null", "00000000")]
    public void Decimals_are_exact_scaled_integers(string type, string json, string hex)
    {
        using var column = Create(type);
        Append(column, json);
        Assert.Equal(Hex(hex), Bytes(column));
    }

    [Theory]
    [InlineData("Decimal(9, 2)", "10000000", "out of range")]
    [InlineData("Decimal(9, 2)", "1.234", "more than 2 fractional digits")]
    [InlineData("Decimal(9, 2)", "1e-3", "more than 2 fractional digits")]
    [InlineData("Decimal(9, 2)", "\"1.2.3\"", "not a number")]
    [InlineData("Decimal(9, 2)", "\"\"", "not a number")]
    [InlineData("Decimal(38, 0)", "100000000000000000000000000000000000000", "out of range")]
    [InlineData("Decimal(18, 0)", "1e400", "out of range")]
    public void Bad_decimals_fail(string type, string json, string message)
    {
        using var column = Create(type);
        Append(column, "1");
        Assert.Contains(message, Fails(column, json).Message, StringComparison.Ordinal);
    }
}

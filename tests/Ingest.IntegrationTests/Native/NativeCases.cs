using System.Buffers;
using System.Text;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.IntegrationTests.Native;

/// <summary>One ClickHouse type with the same values as SQL literals (for the server) and as JSON (for our writer),
/// row by row. <paramref name="Tsv"/>, when given, is what the server must print for the column, one row a line.</summary>
public sealed record NativeCase(string Type, string[] Sql, string[] Json, bool OnClickHouse18 = true, string? Tsv = null, string? ServerTypeName = null)
{
    public override string ToString() => Type;
}

internal static class NativeCases
{
    private static readonly string LongText = new('x', 10_000);

    public static readonly NativeCase[] All =
    [
        new("UInt8", ["0", "255", "7"], ["0", "255", "\"7\""], Tsv: "0\n255\n7"),
        new("UInt16", ["0", "65535"], ["0", "65535"]),
        new("UInt32", ["0", "4294967295"], ["0", "4294967295"]),
        new("UInt64", ["0", "18446744073709551615"], ["0", "\"18446744073709551615\""], Tsv: "0\n18446744073709551615"),
        new("Int8", ["-128", "127", "0"], ["-128", "127", "null"]),
        new("Int16", ["-32768", "32767"], ["-32768", "32767"]),
        new("Int32", ["-2147483648", "2147483647"], ["-2147483648", "2147483647"]),
        new("Int64", ["-9223372036854775808", "9223372036854775807"], ["-9223372036854775808", "9223372036854775807"]),
        new("Float32", ["0", "1.5", "-3.25", "inf", "nan"], ["0", "1.5", "-3.25", "\"inf\"", "\"nan\""]),
        new("Float64", ["0.1", "-1e300", "2.2250738585072014e-308", "-inf", "nan"], ["0.1", "-1e300", "2.2250738585072014e-308", "\"-inf\"", "\"nan\""]),
        new("String",
            ["''", "'abc'", "'ünï©ødé ✓ 😀'", "'a\\tb\\nc\\\\d\\'e\"'", $"'{LongText}'", "'42'"],
            ["\"\"", "\"abc\"", "\"\\u00fcn\\u00ef\\u00a9\\u00f8d\\u00e9 \\u2713 \\ud83d\\ude00\"", "\"a\\tb\\nc\\\\d'e\\\"\"", $"\"{LongText}\"", "42"]),
        new("FixedString(4)", ["'ab'", "'abcd'", "''", "'é'"], ["\"ab\"", "\"abcd\"", "\"\"", "\"é\""]),
        // The maximum values as numbers: 18.16's date parser only covers 1970..2105 and mis-reads later dates.
        new("Date", ["'1970-01-01'", "'2020-02-29'", "65535"], ["\"1970-01-01\"", "\"2020-02-29\"", "\"2149-06-06\""]),
        new("DateTime", ["'1970-01-01 00:00:00'", "'2020-01-02 03:04:05'", "4294967295"], ["0", "\"2020-01-02T03:04:05.999Z\"", "\"2106-02-07 06:28:15\""]),
        // Servers print DateTime('zone') as plain "DateTime" in Native output to clients without a protocol revision
        // (NativeWriter's DBMS_MIN_REVISION_WITH_TIME_ZONE_PARAMETER_IN_DATETIME_DATA_TYPE compatibility rule, both
        // 18.16 and 26.7); we send the type as declared, which both accept on INSERT (the round trip checks it).
        new("DateTime('Europe/Berlin')",
            ["'2020-07-02 03:04:05'", "'2020-01-02 03:04:05'", "'2020-07-02 03:04:05'"],
            ["\"2020-07-02 03:04:05\"", "\"2020-01-02 03:04:05\"", "\"2020-07-02T01:04:05Z\""],
            Tsv: "2020-07-02 03:04:05\n2020-01-02 03:04:05\n2020-07-02 03:04:05", ServerTypeName: "DateTime"),
        new("UUID", ["'00112233-4455-6677-8899-aabbccddeeff'", "'00000000-0000-0000-0000-000000000000'"], ["\"00112233-4455-6677-8899-aabbccddeeff\"", "null"]),
        new("Decimal(9, 2)", ["1234567.89", "-0.01", "0"], ["1234567.89", "\"-0.01\"", "0"]),
        new("Decimal(18, 4)", ["CAST('12345678901234.5678' AS Decimal(18, 4))", "-1"], ["12345678901234.5678", "-1"]),
        new("Decimal(38, 10)",
            ["CAST('1234567890123456789012345678.9012345678' AS Decimal(38, 10))", "CAST('-0.0000000001' AS Decimal(38, 10))"],
            ["1234567890123456789012345678.9012345678", "-1e-10"],
            Tsv: "1234567890123456789012345678.9012345678\n-0.0000000001"),
        // Enum entries in the servers' canonical order (by value), as system.columns.type shows them.
        new("Enum8('b' = -2, 'a' = 1)", ["'a'", "'b'", "'a'"], ["\"a\"", "-2", "1"]),
        new("Enum16('y' = -1000, 'x' = 1000)", ["'y'", "'x'"], ["\"y\"", "\"x\""]),
        new("Nullable(String)", ["NULL", "''", "'x'"], ["null", "\"\"", "\"x\""], Tsv: "\\N\n\nx"),
        new("Nullable(Int32)", ["NULL", "5"], ["null", "5"]),
        new("Array(UInt16)", ["[]", "[1, 2, 65535]"], ["[]", "[1, 2, 65535]"]),
        new("Array(Array(UInt16))", ["[[1], [], [2, 3]]", "[]", "[[]]"], ["[[1], [], [2, 3]]", "null", "[[]]"]),
        new("Array(Nullable(String))", ["['a', NULL, '']", "[]"], ["[\"a\", null, \"\"]", "[]"]),
        new("LowCardinality(String)", ["'a'", "'b'", "'a'", "''"], ["\"a\"", "\"b\"", "\"a\"", "\"\""]),
        new("LowCardinality(Nullable(String))", ["'a'", "NULL", "''", "'a'"], ["\"a\"", "null", "\"\"", "\"a\""]),
        new("Array(LowCardinality(String))", ["['a', 'b']", "[]", "['b', 'c']"], ["[\"a\", \"b\"]", "[]", "[\"b\", \"c\"]"]),
        new("Tuple(UInt8, String)", ["(1, 'x')", "(2, '')"], ["[1, \"x\"]", "[2, \"\"]"]),
        // Types ClickHouse 18.16 does not have: chDB 26.7 only.
        new("Bool", ["true", "false", "true"], ["true", "false", "1"], OnClickHouse18: false),
        new("Date32", ["'1900-01-01'", "'2299-12-31'", "'1969-12-31'"], ["\"1900-01-01\"", "\"2299-12-31\"", "\"1969-12-31\""], OnClickHouse18: false),
        new("DateTime64(3, 'UTC')",
            ["'2020-01-02 03:04:05.678'", "'1969-12-31 23:59:59.500'", "'1900-01-01 00:00:00'"],
            ["\"2020-01-02T03:04:05.678Z\"", "\"1969-12-31 23:59:59.5\"", "\"1900-01-01 00:00:00\""],
            OnClickHouse18: false, Tsv: "2020-01-02 03:04:05.678\n1969-12-31 23:59:59.500\n1900-01-01 00:00:00.000"),
        new("DateTime64(6, 'Europe/Berlin')", ["'2020-07-02 03:04:05.123456'"], ["\"2020-07-02 03:04:05.123456\""], OnClickHouse18: false),
        new("IPv4", ["'1.2.3.4'", "'255.255.255.255'", "'0.0.0.0'"], ["\"1.2.3.4\"", "\"255.255.255.255\"", "null"], OnClickHouse18: false),
        new("IPv6", ["'2001:db8::1'", "'::ffff:1.2.3.4'", "'::'"], ["\"2001:db8::1\"", "\"1.2.3.4\"", "\"::\""], OnClickHouse18: false),
        new("Map(String, UInt64)", ["{'a': 1, 'b': 2}", "{}"], ["{\"a\": 1, \"b\": 2}", "{}"], OnClickHouse18: false),
        new("Map(String, Array(Nullable(String)))", ["{'k': ['v', NULL]}", "{'': []}"], ["{\"k\": [\"v\", null]}", "{\"\": []}"], OnClickHouse18: false),
        new("Tuple(Int32, Array(LowCardinality(String)))", ["(-1, ['a', 'a'])", "(2, [])"], ["[-1, [\"a\", \"a\"]]", "[2, []]"], OnClickHouse18: false),
        new("Array(Map(String, Tuple(UInt8, Nullable(Decimal(9, 2)))))",
            ["[{'a': (1, 1.5)}, {}]", "[]"], ["[{\"a\": [1, 1.5]}, {}]", "[]"], OnClickHouse18: false),
    ];

    /// <summary>1000 rows cycling through 300 distinct strings plus NULL every 7th row: more than 256 keys, so the
    /// LowCardinality indexes are UInt16. Both the SQL that fills the server's table and our JSON.</summary>
    public const string ManyKeysType = "LowCardinality(Nullable(String))";

    public const string ManyKeysSql =
        "SELECT toUInt32(number + 1), if(number % 7 = 3, NULL, concat('key-', toString(number % 300))) FROM system.numbers LIMIT 1000";

    public static string[] ManyKeysJson() =>
        [.. Enumerable.Range(0, 1000).Select(n => n % 7 == 3 ? "null" : $"\"key-{n % 300}\"")];

    public static IEnumerable<object[]> ClickHouse18 => All.Where(c => c.OnClickHouse18).Select(c => new object[] { c });

    public static IEnumerable<object[]> Chdb => All.Select(c => new object[] { c });

    public const string IdType = "UInt32";

    /// <summary>A block with columns id (1..n) and v, written by our writer from the case's JSON; the header can carry
    /// another name for v's type (same data layout) to compare with what a server prints.</summary>
    public static byte[] Encode(NativeCase c, string? headerTypeName = null)
    {
        var vType = ColumnType.Parse(c.Type, "v");
        var idType = ColumnType.Parse(IdType, "id");
        using var id = idType.CreateColumn();
        using var v = vType.CreateColumn();
        for (var i = 0; i < c.Json.Length; i++)
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes($"[{i + 1}, {c.Json[i]}]"));
            reader.Read();
            reader.Read();
            id.AppendJson(ref reader);
            reader.Read();
            v.AppendJson(ref reader);
        }
        var writer = new ArrayBufferWriter<byte>();
        new NativeBlockWriter(["id", "v"], [idType, headerTypeName is null ? vType : ColumnType.Parse(headerTypeName)]).Write(writer, [id, v]);
        return writer.WrittenSpan.ToArray();
    }

    public static string Values(NativeCase c) => string.Join(", ", c.Sql.Select((s, i) => $"({i + 1}, {s})"));

    public static string Columns(NativeCase c) => $"id {IdType}, v {c.Type}";

    /// <summary>Quoted for use inside a SQL string literal (enum and time zone types contain quotes).</summary>
    public static string Quoted(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);

    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes.Length > 400 ? bytes[..400] : bytes);
}

using Ingest.LocalStack.Chdb;

namespace Ingest.IntegrationTests.Services;

/// <summary>chDB 26.7 is a working modern-ClickHouse oracle: a Native block written by ClickHouse 18.16 loads into it
/// and the rows compare equal.</summary>
public sealed class ChdbOracleTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private const string Columns =
        "id UInt64, i32 Int32, f Float64, s String, fs FixedString(4), d Date, ts DateTime, " +
        "ns Nullable(String), arr Array(String), nested Array(Array(UInt16))";

    // Rendered identically by both versions: DateTime as unix seconds (no time zone in the comparison),
    // floats via toString of a decimal-exact value.
    private const string Projection =
        "id, i32, f, s, toString(fs), toString(d), toUInt32(ts), ifNull(ns, '<null>'), arrayStringConcat(arr, '|'), " +
        "arrayStringConcat(arrayMap(x -> arrayStringConcat(arrayMap(y -> toString(y), x), ','), nested), ';')";

    [Fact]
    public async Task A_native_block_from_clickhouse_18_16_loads_into_chdb_26_and_compares_equal()
    {
        var ch = fixture.Stack.Node("ch").Client;
        await ch.ExecuteAsync($"CREATE TABLE default.oracle ({Columns}) ENGINE = MergeTree ORDER BY id");
        await ch.ExecuteAsync(
            "INSERT INTO default.oracle SELECT number, toInt32(number) - 1000, number / 4, " +
            "concat('row-', toString(number), if(number % 7 = 0, ' ünï©ødé ✓', '')), " +
            "toFixedString(substring(concat(toString(number), 'abcd'), 1, 4), 4), toDate('2026-01-01') + number, " +
            "toDateTime('2026-01-01 00:00:00') + number * 37, if(number % 3 = 0, NULL, toString(number * 2)), " +
            "arrayMap(x -> concat('t', toString(x)), range(number % 4)), [range(number % 3), [65535]] " +
            "FROM system.numbers LIMIT 1000");
        var native = await ch.QueryBytesAsync($"SELECT * FROM default.oracle ORDER BY id FORMAT Native");
        var expected = await ch.QueryAsync($"SELECT {Projection} FROM default.oracle ORDER BY id FORMAT TSV");
        Assert.True(native.Length > 10_000, $"Native answer is only {native.Length} bytes");

        var file = Path.Combine(fixture.Stack.Directory, "from-18.16.native");
        await File.WriteAllBytesAsync(file, native);
        var chdb = Chdb.Shared;
        Assert.StartsWith("26.", chdb.Query("SELECT version()").Trim());
        chdb.Query("CREATE DATABASE IF NOT EXISTS oracle");
        chdb.Query("DROP TABLE IF EXISTS oracle.from_18_16");
        chdb.Query($"CREATE TABLE oracle.from_18_16 ({Columns}) ENGINE = MergeTree ORDER BY id");
        chdb.Query($"INSERT INTO oracle.from_18_16 SELECT * FROM file('{file}', 'Native', '{Columns}')");
        var actual = chdb.Query($"SELECT {Projection} FROM oracle.from_18_16 ORDER BY id", "TSV");

        Assert.Equal(expected.Split('\n').Length, actual.Split('\n').Length);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Chdb_reports_errors_as_exceptions_with_its_message()
    {
        var e = Assert.Throws<ChdbException>(() => Chdb.Shared.Query("SELECT * FROM no_such_db.no_such_table"));
        Assert.Contains("no_such", e.Message, StringComparison.Ordinal);
    }
}

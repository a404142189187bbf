using Ingest.LocalStack.Chdb;

namespace Ingest.IntegrationTests.Native;

/// <summary>Our Native blocks against chDB 26.7 (modern ClickHouse), for every type including those 18.16 lacks:
/// byte-identical to its Native output for the same values, and loading through file(..., 'Native') with the values
/// reading back equal.</summary>
public sealed class NativeWriterChdbTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private static readonly string Database = $"native_{Guid.NewGuid():N}";

    private static int _tables;

    [Theory]
    [MemberData(nameof(NativeCases.Chdb), MemberType = typeof(NativeCases))]
    public async Task Native_block_is_byte_identical_to_chdb_26_and_round_trips(NativeCase c)
    {
        var chdb = Chdb.Shared;
        var n = Interlocked.Increment(ref _tables);
        var golden = $"{Database}.golden_{n}";
        var ours = $"{Database}.ours_{n}";
        chdb.Query($"CREATE DATABASE IF NOT EXISTS {Database}");
        foreach (var table in new[] { golden, ours })
            chdb.Query($"CREATE TABLE {table} ({NativeCases.Columns(c)}) ENGINE = Memory");
        chdb.Query($"INSERT INTO {golden} VALUES {NativeCases.Values(c)}");

        var expected = chdb.QueryBytes($"SELECT id, v FROM {golden} ORDER BY id", "Native");
        var comparable = NativeCases.Encode(c, c.ServerTypeName);
        Assert.True(expected.AsSpan().SequenceEqual(comparable), $"golden {NativeCases.Hex(expected)}\nours   {NativeCases.Hex(comparable)}");
        var actual = NativeCases.Encode(c);

        var file = Path.Combine(fixture.Stack.Directory, $"native-{n}.bin");
        await File.WriteAllBytesAsync(file, actual);
        chdb.Query($"INSERT INTO {ours} SELECT * FROM file('{file}', 'Native', '{NativeCases.Quoted(NativeCases.Columns(c))}')");
        var expectedTsv = chdb.Query($"SELECT id, v FROM {golden} ORDER BY id", "TSV");
        var actualTsv = chdb.Query($"SELECT id, v FROM {ours} ORDER BY id", "TSV");
        Assert.Equal(c.Sql.Length, actualTsv.TrimEnd('\n').Split('\n').Length);
        Assert.Equal(expectedTsv, actualTsv);
        if (c.Tsv is not null) Assert.Equal(c.Tsv + "\n", chdb.Query($"SELECT v FROM {ours} ORDER BY id", "TSV"));
    }

    [Fact]
    public async Task LowCardinality_with_more_than_256_keys_is_byte_identical_and_round_trips()
    {
        var chdb = Chdb.Shared;
        var c = new NativeCase(NativeCases.ManyKeysType, [], NativeCases.ManyKeysJson());
        chdb.Query($"CREATE DATABASE IF NOT EXISTS {Database}");
        chdb.Query($"CREATE TABLE {Database}.many_golden ({NativeCases.Columns(c)}) ENGINE = Memory");
        chdb.Query($"CREATE TABLE {Database}.many_ours ({NativeCases.Columns(c)}) ENGINE = Memory");
        chdb.Query($"INSERT INTO {Database}.many_golden {NativeCases.ManyKeysSql}");

        var expected = chdb.QueryBytes($"SELECT id, v FROM {Database}.many_golden ORDER BY id", "Native");
        var actual = NativeCases.Encode(c);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"golden {NativeCases.Hex(expected)}\nours   {NativeCases.Hex(actual)}");

        var file = Path.Combine(fixture.Stack.Directory, "native-many.bin");
        await File.WriteAllBytesAsync(file, actual);
        chdb.Query($"INSERT INTO {Database}.many_ours SELECT * FROM file('{file}', 'Native', '{NativeCases.Quoted(NativeCases.Columns(c))}')");
        const string Check = "SELECT count(), countIf(v IS NULL), uniqExact(ifNull(v, '<null>')), sum(cityHash64(id, ifNull(v, '<null>'))) FROM ";
        Assert.StartsWith("1000\t143\t301\t", chdb.Query(Check + $"{Database}.many_ours", "TSV"), StringComparison.Ordinal);
        Assert.Equal(chdb.Query(Check + $"{Database}.many_golden", "TSV"), chdb.Query(Check + $"{Database}.many_ours", "TSV"));
    }
}

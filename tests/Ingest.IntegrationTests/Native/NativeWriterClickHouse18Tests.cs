namespace Ingest.IntegrationTests.Native;

/// <summary>Our Native blocks against the real ClickHouse 18.16 server: byte-identical to what it returns for the
/// same values, and accepted by INSERT ... FORMAT Native with the values reading back equal.</summary>
public sealed class NativeWriterClickHouse18Tests(SingleStack fixture) : IClassFixture<SingleStack>
{
    /// <summary>LowCardinality was experimental in 18.16; creating such a column needs this setting.</summary>
    private static readonly Dictionary<string, string> Settings = new() { ["allow_experimental_low_cardinality_type"] = "1" };

    private static int _tables;

    [Theory]
    [MemberData(nameof(NativeCases.ClickHouse18), MemberType = typeof(NativeCases))]
    public async Task Native_block_is_byte_identical_to_clickhouse_18_and_round_trips(NativeCase c)
    {
        var ch = fixture.Stack.Node("ch").Client;
        var n = Interlocked.Increment(ref _tables);
        var golden = $"default.native_golden_{n}";
        var ours = $"default.native_ours_{n}";
        foreach (var table in new[] { golden, ours })
            await ch.ExecuteAsync($"CREATE TABLE {table} ({NativeCases.Columns(c)}) ENGINE = Memory", Settings);
        await ch.ExecuteAsync($"INSERT INTO {golden} VALUES {NativeCases.Values(c)}");

        var expected = await ch.QueryBytesAsync($"SELECT id, v FROM {golden} ORDER BY id FORMAT Native");
        var comparable = NativeCases.Encode(c, c.ServerTypeName);
        Assert.True(expected.AsSpan().SequenceEqual(comparable), $"golden {NativeCases.Hex(expected)}\nours   {NativeCases.Hex(comparable)}");
        var actual = NativeCases.Encode(c);

        await ch.InsertAsync(ours, "Native", new ByteArrayContent(actual));
        var expectedTsv = await ch.QueryAsync($"SELECT id, v FROM {golden} ORDER BY id FORMAT TSV");
        var actualTsv = await ch.QueryAsync($"SELECT id, v FROM {ours} ORDER BY id FORMAT TSV");
        Assert.Equal(c.Sql.Length, actualTsv.TrimEnd('\n').Split('\n').Length);
        Assert.Equal(expectedTsv, actualTsv);
        if (c.Tsv is not null)
            Assert.Equal(c.Tsv + "\n", await ch.QueryAsync($"SELECT v FROM {ours} ORDER BY id FORMAT TSV"));
    }

    [Fact]
    public async Task LowCardinality_with_more_than_256_keys_is_byte_identical_and_round_trips()
    {
        var ch = fixture.Stack.Node("ch").Client;
        var c = new NativeCase(NativeCases.ManyKeysType, [], NativeCases.ManyKeysJson());
        await ch.ExecuteAsync($"CREATE TABLE default.native_many_golden ({NativeCases.Columns(c)}) ENGINE = Memory", Settings);
        await ch.ExecuteAsync($"CREATE TABLE default.native_many_ours ({NativeCases.Columns(c)}) ENGINE = Memory", Settings);
        await ch.ExecuteAsync($"INSERT INTO default.native_many_golden {NativeCases.ManyKeysSql}");

        var expected = await ch.QueryBytesAsync("SELECT id, v FROM default.native_many_golden ORDER BY id FORMAT Native");
        var actual = NativeCases.Encode(c);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"golden {NativeCases.Hex(expected)}\nours   {NativeCases.Hex(actual)}");

        await ch.InsertAsync("default.native_many_ours", "Native", new ByteArrayContent(actual));
        const string Check = "SELECT count(), countIf(isNull(v)), uniqExact(ifNull(v, '<null>')), sum(cityHash64(id, ifNull(v, '<null>'))) FROM ";
        var ours = await ch.QueryAsync(Check + "default.native_many_ours FORMAT TSV");
        Assert.StartsWith("1000\t143\t301\t", ours, StringComparison.Ordinal);
        Assert.Equal(await ch.QueryAsync(Check + "default.native_many_golden FORMAT TSV"), ours);
    }
}

using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.Pipeline.Backup;

namespace Ingest.IntegrationTests.Backup;

/// <summary>The FREEZE backend against a real ClickHouse 18.16 (node a1 of the independent stack, with its ZooKeeper):
/// a ReplicatedMergeTree table frozen, written to, dropped, recreated and restored from the shadow directory.</summary>
public sealed class FreezeBackendTests(IndependentStack fixture) : IClassFixture<IndependentStack>
{
    private readonly ClickHouseServer _node = fixture.Stack.Node("a1");
    private readonly FreezeBackend _backend = new();

    private string DataPath => Path.Combine(_node.Directory, "data");

    [Fact]
    public async Task A_restore_after_drop_and_create_brings_back_exactly_the_rows_present_at_the_freeze()
    {
        var table = await Load.CreateTableAsync(_node, "fz");
        await InsertAsync(table, first: 0, count: 1000);
        await InsertAsync(table, first: 1000, count: 700);
        var (countAtFreeze, sumAtFreeze) = await CountAndSumAsync(table);
        Assert.Equal(1700, countAtFreeze);
        var name = NewBackupName();

        var frozen = Assert.Single(await _backend.FreezeAsync(_node.Client, DataPath, name, [table]));
        Assert.Equal(table, frozen.Table);
        Assert.InRange(frozen.Parts.Count, 1, 2); // one part per insert, unless a merge got there first
        Assert.True(Directory.Exists(ShadowOf(name)), $"no {ShadowOf(name)}");
        await InsertAsync(table, first: 1700, count: 300); // after the freeze: must not come back
        Assert.Equal(2000, (await CountAndSumAsync(table)).Count);

        await _node.Client.ExecuteAsync($"DROP TABLE {table}");
        await Load.CreateNamedTableAsync(_node, table);
        Assert.Equal(0, (await CountAndSumAsync(table)).Count);

        var restored = await _backend.RestoreAsync(_node.Client, DataPath, name, table);
        Assert.Equal(frozen.Parts, restored.Parts);
        Assert.Equal(countAtFreeze, restored.Rows);
        Assert.Equal((countAtFreeze, sumAtFreeze), await CountAndSumAsync(table));
        Assert.Equal(0, await _node.CountAsync($"SELECT count() FROM {table} WHERE seq >= 1700"));
        // ATTACH moved every copied part out of detached/.
        Assert.Empty(Directory.GetDirectories(Path.Combine(DataPath, "data", "default", table["default.".Length..], "detached")));

        Assert.True(await _backend.DeleteAsync(DataPath, name));
        Assert.False(Directory.Exists(ShadowOf(name)));
        Assert.False(await _backend.DeleteAsync(DataPath, name));
    }

    [Fact]
    public async Task A_table_whose_name_18_16_escapes_in_paths_is_frozen_and_restored()
    {
        var bare = $"fz-{Guid.NewGuid():N}"[..15]; // '-' is %2D in the data directory
        var create = $"CREATE TABLE default.`{bare}` (id UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{bare}', '{{replica}}') ORDER BY id";
        await _node.Client.ExecuteAsync(create);
        Assert.True(Directory.Exists(Path.Combine(DataPath, "data", "default", bare.Replace("-", "%2D", StringComparison.Ordinal))));
        await _node.Client.ExecuteAsync($"INSERT INTO default.`{bare}` SELECT number FROM system.numbers LIMIT 123");
        var name = NewBackupName();

        var frozen = Assert.Single(await _backend.FreezeAsync(_node.Client, DataPath, name, [$"default.{bare}"]));
        Assert.NotEmpty(frozen.Parts);
        await _node.Client.ExecuteAsync($"DROP TABLE default.`{bare}`");
        await _node.Client.ExecuteAsync(create);
        var restored = await _backend.RestoreAsync(_node.Client, DataPath, name, $"default.{bare}");

        Assert.Equal(123, restored.Rows);
        Assert.Equal(123, await _node.CountAsync($"SELECT count() FROM default.`{bare}`"));
        await _backend.DeleteAsync(DataPath, name);
    }

    [Fact]
    public async Task A_data_path_without_the_tables_data_directory_is_refused_and_nothing_is_frozen()
    {
        var table = await TableWithRowsAsync(10);
        var name = NewBackupName();

        // The server's directory, one level above its data path: plausible, wrong.
        var freeze = await Assert.ThrowsAsync<FreezeBackendException>(() => _backend.FreezeAsync(_node.Client, _node.Directory, name, [table]));
        Assert.Contains("does not hold the data of", freeze.Message);
        Assert.False(Directory.Exists(ShadowOf(name)));

        await _backend.FreezeAsync(_node.Client, DataPath, name, [table]);
        var restore = await Assert.ThrowsAsync<FreezeBackendException>(() => _backend.RestoreAsync(_node.Client, _node.Directory, name, table));
        Assert.Contains("does not hold the data of", restore.Message);
        Assert.Equal(10, await _node.CountAsync($"SELECT count() FROM {table}"));
        await _backend.DeleteAsync(DataPath, name);
    }

    [Fact]
    public async Task Restoring_an_unknown_backup_or_a_table_the_backup_does_not_hold_is_refused()
    {
        var table = await TableWithRowsAsync(10);
        var other = await Load.CreateTableAsync(_node, "fz");

        var unknown = await Assert.ThrowsAsync<FreezeBackendException>(() => _backend.RestoreAsync(_node.Client, DataPath, NewBackupName(), table));
        Assert.Contains("no backup named", unknown.Message);

        var name = NewBackupName();
        await _backend.FreezeAsync(_node.Client, DataPath, name, [table]);
        var notInIt = await Assert.ThrowsAsync<FreezeBackendException>(() => _backend.RestoreAsync(_node.Client, DataPath, name, other));
        Assert.Contains("has no table", notInIt.Message);
        Assert.Equal(0, await _node.CountAsync($"SELECT count() FROM {other}"));

        // A second freeze under the same name would mix two backups: refused.
        var again = await Assert.ThrowsAsync<FreezeBackendException>(() => _backend.FreezeAsync(_node.Client, DataPath, name, [table]));
        Assert.Contains("already exists", again.Message);
        await _backend.DeleteAsync(DataPath, name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("x..y")]
    [InlineData("it's")]
    [InlineData("q\"q")]
    public async Task Backup_names_that_could_leave_the_shadow_directory_or_break_the_sql_are_refused(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _backend.FreezeAsync(_node.Client, DataPath, name, ["default.x"]));
        await Assert.ThrowsAsync<ArgumentException>(() => _backend.RestoreAsync(_node.Client, DataPath, name, "default.x"));
        await Assert.ThrowsAsync<ArgumentException>(() => _backend.DeleteAsync(DataPath, name));
    }

    /// <summary>18.16 escapes the name: '-' is %2D (an independent check of where the backup lands).</summary>
    private string ShadowOf(string name) => Path.Combine(DataPath, "shadow", name.Replace("-", "%2D", StringComparison.Ordinal));

    private static string NewBackupName() => $"fz-{Guid.NewGuid():N}"[..15];

    private async Task<string> TableWithRowsAsync(long rows)
    {
        var table = await Load.CreateTableAsync(_node, "fz");
        await InsertAsync(table, first: 0, count: rows);
        return table;
    }

    private Task InsertAsync(string table, long first, long count) => _node.Client.ExecuteAsync(
        $"INSERT INTO {table} SELECT toDateTime('2026-12-01 00:00:00') + number, number % 97, 'e', number * 1.5, ['t'], number, 0, number " +
        $"FROM (SELECT number + {first} AS number FROM system.numbers LIMIT {count})");

    private async Task<(long Count, long Sum)> CountAndSumAsync(string table) =>
        (await _node.CountAsync($"SELECT count() FROM {table}"), await _node.CountAsync($"SELECT toInt64(sum(seq)) FROM {table}"));
}

using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.Pipeline.Backup;

namespace Ingest.IntegrationTests.Backup;

/// <summary>The "freeze" backend against a real ClickHouse 18.16 (node a1 of the independent stack): a replicated and a
/// plain table backed up with their schemas, dropped, and restored into nothing (created from the saved schema).</summary>
public sealed class FreezeBackupBackendTests(IndependentStack fixture) : IClassFixture<IndependentStack>
{
    private readonly ClickHouseServer _node = fixture.Stack.Node("a1");

    private string DataPath => Path.Combine(_node.Directory, "data");

    private FreezeBackupBackend Backend() => new(_node.Client, DataPath);

    [Fact]
    public async Task Backup_then_drop_then_restore_recreates_the_tables_from_their_saved_schema_with_the_rows_at_the_backup()
    {
        var replicated = await Load.CreateTableAsync(_node, "fzb");
        var plain = $"default.fzb_plain_{Guid.NewGuid():N}"[..30];
        await _node.Client.ExecuteAsync($"CREATE TABLE {plain} (id UInt64, s String) ENGINE = MergeTree ORDER BY id");
        await InsertAsync(replicated, 0, 1000);
        await InsertAsync(replicated, 1000, 500);
        await _node.Client.ExecuteAsync($"INSERT INTO {plain} SELECT number, toString(number) FROM system.numbers LIMIT 321");
        var atBackup = await SumsAsync(replicated, plain);
        var name = NewName();
        var backend = Backend();

        var result = await backend.BackupAsync(Request(name, replicated, plain), CancellationToken.None);

        Assert.Matches($@"^froze 2 tables \([2-3] parts\) on {_node.HttpEndpoint.Authority}$", result.Detail);
        var schema = backend.SchemaFile(name, replicated);
        Assert.Equal(Path.Combine(DataPath, "shadow", name.Replace("-", "%2D", StringComparison.Ordinal), "metadata", "default", replicated["default.".Length..] + ".sql"), schema);
        Assert.Contains("ReplicatedMergeTree", await File.ReadAllTextAsync(schema));
        Assert.Contains("CREATE TABLE default.", await File.ReadAllTextAsync(backend.SchemaFile(name, plain)));

        // Written after the backup: must not come back.
        await InsertAsync(replicated, 1500, 200);
        await _node.Client.ExecuteAsync($"INSERT INTO {plain} SELECT number + 1000, 'late' FROM system.numbers LIMIT 10");

        // A table that holds rows is refused, naming it and its rows, before anything is restored.
        await _node.Client.ExecuteAsync($"DROP TABLE {replicated}");
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.RestoreAsync(Request(name, replicated, plain), CancellationToken.None));
        Assert.Equal($"{plain} on {_node.HttpEndpoint.Authority} holds 331 rows: restore into a missing or empty table (drop or truncate it first)", refused.Message);
        Assert.Equal(0, await _node.CountAsync($"EXISTS TABLE {replicated}"));

        await _node.Client.ExecuteAsync($"DROP TABLE {plain}");
        var restored = await backend.RestoreAsync(Request(name, replicated, plain), CancellationToken.None);

        Assert.Matches($@"^restored 2 tables \([2-3] parts, 1821 rows; 2 created from the backup's schema\) on {_node.HttpEndpoint.Authority}$", restored.Detail);
        Assert.Equal(atBackup, await SumsAsync(replicated, plain));
        await new FreezeBackend().DeleteAsync(DataPath, name);
    }

    [Fact]
    public async Task An_existing_empty_table_is_restored_into_and_a_table_empty_at_the_backup_comes_back_empty()
    {
        var full = await Load.CreateTableAsync(_node, "fzb");
        var empty = await Load.CreateTableAsync(_node, "fzb");
        await InsertAsync(full, 0, 250);
        var name = NewName();
        var backend = Backend();
        await backend.BackupAsync(Request(name, full, empty), CancellationToken.None);

        await _node.Client.ExecuteAsync($"DROP TABLE {full}");
        await Load.CreateNamedTableAsync(_node, full); // exists, empty: restored into, not recreated
        await _node.Client.ExecuteAsync($"DROP TABLE {empty}");
        var restored = await backend.RestoreAsync(Request(name, full, empty), CancellationToken.None);

        Assert.Contains("250 rows; 1 created from the backup's schema", restored.Detail);
        Assert.Equal(250, await _node.CountAsync($"SELECT count() FROM {full}"));
        Assert.Equal(0, await _node.CountAsync($"SELECT count() FROM {empty}"));
        await new FreezeBackend().DeleteAsync(DataPath, name);
    }

    [Fact]
    public async Task A_missing_table_whose_backup_holds_no_schema_is_refused_by_name()
    {
        var table = await Load.CreateTableAsync(_node, "fzb");
        await InsertAsync(table, 0, 10);
        var name = NewName();
        var backend = Backend();
        await backend.BackupAsync(Request(name, table), CancellationToken.None);
        File.Delete(backend.SchemaFile(name, table)); // a backup taken without schemas (FreezeBackend alone)
        await _node.Client.ExecuteAsync($"DROP TABLE {table}");

        var e = await Assert.ThrowsAsync<FreezeBackendException>(() => backend.RestoreAsync(Request(name, table), CancellationToken.None));

        Assert.StartsWith($"{table} is missing on {_node.HttpEndpoint.Authority} and backup '{name}' holds no schema for it", e.Message);
        Assert.Equal(0, await _node.CountAsync($"EXISTS TABLE {table}"));
        await new FreezeBackend().DeleteAsync(DataPath, name);
    }

    [Fact]
    public async Task A_backup_that_cannot_finish_leaves_no_partial_backup_behind()
    {
        var table = await Load.CreateTableAsync(_node, "fzb");
        await InsertAsync(table, 0, 10);
        var backend = Backend();

        // The second table does not exist: refused before anything is frozen.
        var name = NewName();
        await Assert.ThrowsAnyAsync<Exception>(() => backend.BackupAsync(Request(name, table, "default.no_such_table"), CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(DataPath, "shadow", name.Replace("-", "%2D", StringComparison.Ordinal))));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var other = NewName();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backend.BackupAsync(Request(other, table), cancelled.Token));
        Assert.False(Directory.Exists(Path.Combine(DataPath, "shadow", other.Replace("-", "%2D", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task Cancelled_between_two_freezes_the_half_taken_backup_is_removed()
    {
        var first = await Load.CreateTableAsync(_node, "fzb");
        var second = await Load.CreateTableAsync(_node, "fzb");
        await InsertAsync(first, 0, 10);
        await InsertAsync(second, 0, 10);
        using var cts = new CancellationTokenSource();
        // Cancels once the first FREEZE has been answered: the second is never sent.
        var handler = new CancelAfterFreeze(cts);
        using var http = new HttpClient(handler);
        using var client = new Pipeline.ClickHouse.Http.ClickHouseHttpClient(_node.HttpEndpoint, http: http);
        var name = NewName();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new FreezeBackupBackend(client, DataPath).BackupAsync(Request(name, first, second), cts.Token));

        Assert.Equal(1, handler.Freezes);
        Assert.False(Directory.Exists(Path.Combine(DataPath, "shadow", name.Replace("-", "%2D", StringComparison.Ordinal))), "the half backup is still there");
    }

    private sealed class CancelAfterFreeze(CancellationTokenSource cts) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _freezes;

        public int Freezes => _freezes;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var sql = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            var response = await base.SendAsync(request, cancellationToken);
            if (sql.Contains(" FREEZE ", StringComparison.Ordinal) && Interlocked.Increment(ref _freezes) == 1) await cts.CancelAsync();
            return response;
        }
    }

    private static BackupRequest Request(string name, params string[] tables) => new(name, tables, new BackupPoint(
        name, "a", "g.a", "started", "freeze", DateTimeOffset.UtcNow, null, 0, ["w"], []));

    private static string NewName() => $"fzb-{Guid.NewGuid():N}"[..16];

    private Task InsertAsync(string table, long first, long count) => _node.Client.ExecuteAsync(
        $"INSERT INTO {table} SELECT toDateTime('2026-12-01 00:00:00') + number, number % 97, 'e', number * 1.5, ['t'], number, 0, number " +
        $"FROM (SELECT number + {first} AS number FROM system.numbers LIMIT {count})");

    private async Task<(long, long, long, long)> SumsAsync(string replicated, string plain) => (
        await _node.CountAsync($"SELECT count() FROM {replicated}"), await _node.CountAsync($"SELECT toInt64(sum(seq)) FROM {replicated}"),
        await _node.CountAsync($"SELECT count() FROM {plain}"), await _node.CountAsync($"SELECT toInt64(sum(id)) FROM {plain}"));
}

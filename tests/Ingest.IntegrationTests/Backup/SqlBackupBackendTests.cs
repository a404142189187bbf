using System.Collections.Concurrent;
using Ingest.LocalStack.Chdb;
using Ingest.Pipeline.Backup;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.IntegrationTests.Backup;

/// <summary>The "sql" backend (BACKUP/RESTORE … ASYNC polled in system.backups) against chDB 26.7 in process, and its
/// refusal of ClickHouse 18.16. chDB as the tests start it has no <c>backups</c> config, so File() and Disk() end in
/// BACKUP_FAILED (318); the Memory() backup engine needs no config and carries a whole BACKUP → DROP → RESTORE.</summary>
public sealed class SqlBackupBackendTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Backup_drop_restore_through_chdb_brings_back_the_rows_present_at_the_backup()
    {
        var chdb = new ChdbRunner();
        var db = NewDatabase();
        chdb.Run($"CREATE DATABASE {db}");
        chdb.Run($"CREATE TABLE {db}.events (id UInt64, s String) ENGINE = MergeTree ORDER BY id");
        chdb.Run($"CREATE TABLE {db}.cp (k String, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY k");
        chdb.Run($"INSERT INTO {db}.events SELECT number, toString(number) FROM numbers(1000)");
        chdb.Run($"INSERT INTO {db}.events SELECT number + 1000, 'x' FROM numbers(234)");
        chdb.Run($"INSERT INTO {db}.cp VALUES ('events/0', 1234)");
        var atBackup = Sums(chdb, db);
        var backend = new SqlBackupBackend(chdb, "Memory('{name}')", PollEvery);
        var name = $"sq-{Guid.NewGuid():N}"[..16];

        var result = await backend.BackupAsync(Request(name, $"{db}.events", $"{db}.cp"), CancellationToken.None);

        Assert.Matches($@"^BACKUP of 2 tables to Memory\('{name}'\) on chDB: BACKUP_CREATED \(\d+ files, \d+ bytes\)$", result.Detail);
        Assert.Contains(chdb.Statements, s => s == $"BACKUP TABLE `{db}`.`events`, TABLE `{db}`.`cp` TO Memory('{name}') ASYNC");
        Assert.Contains(chdb.Statements, s => s.StartsWith("SELECT * FROM system.backups WHERE id = ", StringComparison.Ordinal));
        chdb.Run($"INSERT INTO {db}.events SELECT number + 5000, 'late' FROM numbers(66)");

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.RestoreAsync(Request(name, $"{db}.events", $"{db}.cp"), CancellationToken.None));
        Assert.Equal($"{db}.events on chDB holds 1300 rows: restore into a missing or empty table (drop or truncate it first)", refused.Message);
        Assert.DoesNotContain(chdb.Statements, s => s.StartsWith("RESTORE", StringComparison.Ordinal));

        chdb.Run($"DROP TABLE {db}.events SYNC");
        chdb.Run($"TRUNCATE TABLE {db}.cp"); // exists, empty: restored into
        var restored = await backend.RestoreAsync(Request(name, $"{db}.events", $"{db}.cp"), CancellationToken.None);

        Assert.StartsWith($"RESTORE of 2 tables from Memory('{name}') on chDB: RESTORED", restored.Detail);
        Assert.Equal(atBackup, Sums(chdb, db));
        chdb.Run($"DROP DATABASE {db} SYNC");
    }

    [Fact]
    public async Task A_destination_chdb_has_no_backups_config_for_fails_with_the_servers_error_text()
    {
        var chdb = new ChdbRunner();
        var db = NewDatabase();
        chdb.Run($"CREATE DATABASE {db}");
        chdb.Run($"CREATE TABLE {db}.t (id UInt64) ENGINE = MergeTree ORDER BY id");
        chdb.Run($"INSERT INTO {db}.t SELECT number FROM numbers(10)");

        var file = await Assert.ThrowsAsync<SqlBackupException>(() =>
            new SqlBackupBackend(chdb, "File('/tmp/ingest-sql-backups/{name}')", PollEvery).BackupAsync(Request("f1", $"{db}.t"), CancellationToken.None));
        Assert.Contains("ended BACKUP_FAILED: Code: 318. DB::Exception: The 'backups.allowed_path' configuration parameter is not set, cannot use 'File' backup engine. (INVALID_CONFIG_PARAMETER)", file.Message);
        Assert.DoesNotContain("Stack trace", file.Message);

        var disk = await Assert.ThrowsAsync<SqlBackupException>(() =>
            new SqlBackupBackend(chdb, new SqlBackupOptions().Destination, PollEvery).BackupAsync(Request("d1", $"{db}.t"), CancellationToken.None));
        Assert.Contains("The 'backups.allowed_disk' configuration parameter is not set, cannot use 'Disk' backup engine", disk.Message);
        chdb.Run($"DROP DATABASE {db} SYNC");
    }

    [Fact]
    public async Task Cancelled_while_the_backup_runs_its_query_is_killed_and_the_cancellation_thrown()
    {
        var chdb = new ChdbRunner();
        var db = NewDatabase();
        chdb.Run($"CREATE DATABASE {db}");
        chdb.Run($"CREATE TABLE {db}.t (id UInt64, s String) ENGINE = MergeTree ORDER BY id");
        chdb.Run($"SYSTEM STOP MERGES {db}.t");
        for (var i = 0; i < 20; i++) chdb.Run($"INSERT INTO {db}.t SELECT number, randomPrintableASCII(100) FROM numbers(2000)");
        // ~4 MB at 1 MB/s: the backup is still running when it is cancelled (the session's setting, reset below).
        chdb.Run("SET max_backup_bandwidth = 1000000");
        try
        {
            var backend = new SqlBackupBackend(chdb, "Memory('{name}')", PollEvery);
            using var cts = new CancellationTokenSource();
            chdb.OnStatement = s =>
            {
                if (s.StartsWith("SELECT * FROM system.backups", StringComparison.Ordinal)) cts.Cancel();
            };
            var name = $"sc-{Guid.NewGuid():N}"[..16];

            var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backend.BackupAsync(Request(name, $"{db}.t"), cts.Token));

            Assert.Equal(cts.Token, e.CancellationToken);
            var kill = Assert.Single(chdb.Statements, s => s.StartsWith("KILL QUERY", StringComparison.Ordinal));
            Assert.Matches(@"^KILL QUERY WHERE query_id IN \(SELECT query_id FROM system.backups WHERE id = '[0-9a-f-]{36}'\) ASYNC$", kill);
            // The kill found the backup's query running, and the backup ends cancelled rather than created (measured: about
            // 2 s after the kill, at the next file it copies; uncancelled it would run ~4 s).
            Assert.EndsWith("was cancelled; KILL QUERY sent for its query", e.Message);
            var id = kill.Split('\'')[1];
            var status = await Poll.UntilAsync(
                () => Task.FromResult(chdb.Run($"SELECT status, error FROM system.backups WHERE id = '{id}'")),
                s => !s.StartsWith("CREATING_BACKUP", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            Assert.StartsWith("BACKUP_CANCELLED\tCode: 394. DB::Exception: Query was cancelled. (QUERY_WAS_CANCELLED)", status);
        }
        finally
        {
            chdb.OnStatement = null;
            chdb.Run("SET max_backup_bandwidth = 0");
        }
    }

    [Fact]
    public async Task ClickHouse_18_16_is_refused_saying_it_has_no_sql_backup()
    {
        var node = fixture.Stack.Node("ch");
        // Why the version is asked first: 18.16's own answer says nothing of BACKUP being unknown.
        var raw = await Assert.ThrowsAsync<ClickHouseServerException>(() => node.Client.ExecuteAsync("BACKUP TABLE default.x TO Disk('backups', 'b') ASYNC"));
        Assert.Equal(62, raw.Code);
        Assert.Contains("Syntax error", raw.Message);

        var backend = new SqlBackupBackend(new HttpSqlRunner(node.Client), "Disk('backups', '{name}')", PollEvery);
        var e = await Assert.ThrowsAsync<SqlBackupException>(() => backend.BackupAsync(Request("bp-1", "default.x"), CancellationToken.None));
        Assert.Equal($"{node.HttpEndpoint.Authority} (ClickHouse 18.16.1) has no SQL BACKUP (22.x and later); use the freeze backend", e.Message);
        var restore = await Assert.ThrowsAsync<SqlBackupException>(() => backend.RestoreAsync(Request("bp-1", "default.x"), CancellationToken.None));
        Assert.Equal(e.Message, restore.Message);
    }

    private static string NewDatabase() => $"sqlbk_{Guid.NewGuid():N}"[..20];

    private static (string, string) Sums(ChdbRunner chdb, string db) => (
        chdb.Run($"SELECT count(), sum(id), sum(length(s)) FROM {db}.events").Trim(),
        chdb.Run($"SELECT k, v FROM {db}.cp FINAL ORDER BY k").Trim());

    private static BackupRequest Request(string name, params string[] tables) => new(name, tables, new BackupPoint(
        name, "a", "g.a", "started", "sql", DateTimeOffset.UtcNow, null, 0, ["w"], []));

    /// <summary>chDB as the backend's SQL runner; records every statement it is given.</summary>
    private sealed class ChdbRunner : ISqlRunner
    {
        public ConcurrentQueue<string> Statements { get; } = new();

        public Action<string>? OnStatement { get; set; }

        public string Server => "chDB";

        public string Run(string sql) => Chdb.Shared.Query(sql);

        public Task<string> QueryAsync(string sql, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            Statements.Enqueue(sql);
            var answer = Chdb.Shared.Query(sql);
            OnStatement?.Invoke(sql);
            return Task.FromResult(answer);
        }
    }
}

using System.Collections.Concurrent;
using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>The SQL backend's polling rules with scripted server answers (the real servers, chDB 26.7 and 18.16, are
/// in Ingest.IntegrationTests' SqlBackupBackendTests).</summary>
public sealed class SqlBackupBackendTests
{
    private const string Id = "5b65c246-4528-4613-bcb6-bad4ad5d0f4d";

    [Fact]
    public async Task A_poll_that_does_not_get_through_is_asked_again_until_the_operation_ends()
    {
        var runner = new ScriptedRunner(
            "24.8.1.1",
            $"{Id}\tCREATING_BACKUP\n",
            """{"status":"CREATING_BACKUP","error":""}""",
            new HttpRequestException("connection refused"),
            new TimeoutException("no answer"),
            """{"status":"BACKUP_CREATED","error":"","num_files":"15","total_size":20889020}""");

        var result = await Backend(runner).BackupAsync(BackupBackendTestData.Request("bp-1", "db.events"), CancellationToken.None);

        Assert.Equal("BACKUP of 1 tables to Disk('backups', 'bp-1') on scripted: BACKUP_CREATED (15 files, 20889020 bytes)", result.Detail);
        Assert.Equal(4, runner.Statements.Count(s => s.StartsWith("SELECT * FROM system.backups", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_operation_the_server_no_longer_knows_fails_saying_why()
    {
        var runner = new ScriptedRunner("24.8.1.1", $"{Id}\tCREATING_BACKUP\n", "");

        var e = await Assert.ThrowsAsync<SqlBackupException>(() => Backend(runner).BackupAsync(BackupBackendTestData.Request("bp-1", "db.events"), CancellationToken.None));

        Assert.Equal($"scripted has no row for BACKUP {Id} in system.backups: the server restarted (system.backups is not kept across restarts) or the row was removed", e.Message);
    }

    [Fact]
    public async Task A_refused_statement_names_the_server_and_the_statement_and_a_failure_drops_the_stack_trace()
    {
        var refused = new ScriptedRunner("24.8.1.1", new InvalidOperationException("Code: 60. DB::Exception: Unknown table db.events"));
        var e = await Assert.ThrowsAsync<SqlBackupException>(() => Backend(refused).BackupAsync(BackupBackendTestData.Request("bp-1", "db.events"), CancellationToken.None));
        Assert.Equal("BACKUP on scripted was refused: Code: 60. DB::Exception: Unknown table db.events (statement: BACKUP TABLE `db`.`events` TO Disk('backups', 'bp-1') ASYNC)", e.Message);

        var failed = new ScriptedRunner("25.3.1", "0", $"{Id}\tRESTORING\n",
            """{"status":"RESTORE_FAILED","error":"Code: 27. DB::Exception: broken. (X), Stack trace (when copying this message):\n0. ?"}""");
        var f = await Assert.ThrowsAsync<SqlBackupException>(() => Backend(failed).RestoreAsync(BackupBackendTestData.Request("bp-1", "db.events"), CancellationToken.None));
        Assert.Equal($"RESTORE {Id} on scripted ended RESTORE_FAILED: Code: 27. DB::Exception: broken. (X)", f.Message);
    }

    [Theory]
    [InlineData("Disk('backups', 'fixed')")]
    [InlineData("")]
    public void A_destination_without_the_name_is_refused(string destination)
    {
        var e = Assert.Throws<ArgumentException>(() => new SqlBackupBackend(new ScriptedRunner(), destination));
        Assert.Contains("Ingest:Backup:Sql:Destination", e.Message);
    }

    [Fact]
    public async Task A_name_that_would_break_out_of_the_destinations_string_is_refused_before_anything_runs()
    {
        var runner = new ScriptedRunner();
        await Assert.ThrowsAsync<ArgumentException>(() => Backend(runner).BackupAsync(BackupBackendTestData.Request("x') --", "db.t"), CancellationToken.None));
        Assert.Empty(runner.Statements);
    }

    private static SqlBackupBackend Backend(ScriptedRunner runner) => new(runner, "Disk('backups', '{name}')", TimeSpan.FromMilliseconds(10));

    /// <summary>Answers each statement with the next scripted answer (a string, or an exception to throw).</summary>
    private sealed class ScriptedRunner(params object[] answers) : ISqlRunner
    {
        private readonly Queue<object> _answers = new(answers);

        public ConcurrentQueue<string> Statements { get; } = new();

        public string Server => "scripted";

        public Task<string> QueryAsync(string sql, CancellationToken ct)
        {
            Statements.Enqueue(sql);
            return _answers.Dequeue() switch
            {
                Exception e => Task.FromException<string>(e),
                var text => Task.FromResult((string)text),
            };
        }
    }
}

using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>The clickhouse-backup backend against <see cref="BackupApiServer"/> (the REST contract; no real
/// clickhouse-backup is installable here).</summary>
public sealed class ClickHouseBackupBackendTests : IAsyncLifetime
{
    private BackupApiServer _server = null!;
    private ClickHouseBackupClient _client = null!;

    public Task InitializeAsync()
    {
        _server = BackupApiServer.Start();
        _client = new ClickHouseBackupClient(_server.Url, BackupApiServer.User, BackupApiServer.Password, TimeSpan.FromSeconds(10),
            pollInterval: TimeSpan.FromMilliseconds(50));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private ClickHouseBackupBackend Backend(TimeSpan? wait = null) => new(_client, wait ?? TimeSpan.FromSeconds(20));

    [Fact]
    public async Task A_backup_creates_a_local_backup_of_the_requested_tables_and_waits_for_its_success()
    {
        var result = await Backend().BackupAsync(BackupBackendTestData.Request("bp-1", "db.events", "db.ingest_checkpoints"), CancellationToken.None);

        var create = Assert.Single(_server.Requests, r => r.Path == "/backup/create");
        Assert.Equal("bp-1", create.Query["name"]);
        Assert.Equal("db.events,db.ingest_checkpoints", create.Query["table"]);
        Assert.Equal("clickhouse-backup create --tables=\"db.events,db.ingest_checkpoints\" bp-1 on " + _server.Url.Authority + ": success", result.Detail);
        Assert.True(_server.Requests.Count(r => r.Path == "/backup/status") >= 2, "returned before the operation ended");
        Assert.Empty(_server.Kills);
    }

    [Fact]
    public async Task An_operation_that_ends_in_error_fails_the_backup_with_the_servers_error_text()
    {
        _server.Outcome = _ => "can't freeze `db`.`events`: code: 60, message: Table db.events doesn't exist";

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() =>
            Backend().BackupAsync(BackupBackendTestData.Request("bp-err", "db.events"), CancellationToken.None));

        Assert.Equal(BackupErrorKind.Failed, e.Kind);
        Assert.Contains("Table db.events doesn't exist", e.Message);
        Assert.Contains("'error'", e.Message);
    }

    [Fact]
    public async Task Another_running_operation_423_fails_the_backup_saying_so_and_kills_nothing()
    {
        _server.OperationDuration = TimeSpan.FromSeconds(30);
        await _client.CreateAsync("someone-elses");

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() =>
            Backend().BackupAsync(BackupBackendTestData.Request("bp-locked", "db.events"), CancellationToken.None));

        Assert.True(e.IsLocked);
        Assert.Contains("another operation is running", e.Message);
        Assert.Empty(_server.Kills);
    }

    [Fact]
    public async Task Past_its_wait_timeout_the_operation_is_killed_by_its_own_command_and_the_backup_is_cancelled()
    {
        _server.OperationDuration = TimeSpan.FromSeconds(60);

        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Backend(TimeSpan.FromMilliseconds(400)).BackupAsync(BackupBackendTestData.Request("bp-slow", "db.events"), CancellationToken.None));

        Assert.Equal("create --tables=\"db.events\" bp-slow", Assert.Single(_server.Kills));
        Assert.Contains("killed it", e.Message);
        Assert.Equal("cancel", (await _client.StatusAsync(LastOperationId())).Status);
    }

    [Fact]
    public async Task Cancelled_by_the_caller_the_operation_is_killed_then_the_cancellation_is_thrown()
    {
        _server.OperationDuration = TimeSpan.FromSeconds(60);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));

        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Backend().BackupAsync(BackupBackendTestData.Request("bp-cancel", "db.events"), cts.Token));

        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.Equal("create --tables=\"db.events\" bp-cancel", Assert.Single(_server.Kills));
        Assert.Contains("killed", e.Message);
        Assert.Equal("cancel", (await _client.StatusAsync(LastOperationId())).Status);
        // The slot is free again: the next backup is not refused with 423.
        _server.OperationDuration = TimeSpan.FromMilliseconds(50);
        await Backend().BackupAsync(BackupBackendTestData.Request("bp-after", "db.events"), CancellationToken.None);
    }

    [Fact]
    public async Task A_restore_restores_those_tables_of_that_backup_schema_and_data_without_drop()
    {
        await Backend().BackupAsync(BackupBackendTestData.Request("bp-r", "db.events", "db.cp"), CancellationToken.None);

        var result = await Backend().RestoreAsync(BackupBackendTestData.Request("bp-r", "db.events", "db.cp"), CancellationToken.None);

        var restore = Assert.Single(_server.Requests, r => r.Path.StartsWith("/backup/restore/", StringComparison.Ordinal));
        Assert.Equal("/backup/restore/bp-r", restore.Path);
        Assert.Equal("POST", restore.Method);
        Assert.Equal("db.events,db.cp", restore.Query["table"]);
        Assert.DoesNotContain("drop", restore.Query.Keys);
        Assert.DoesNotContain("schema", restore.Query.Keys);
        Assert.DoesNotContain("data", restore.Query.Keys);
        Assert.EndsWith(": success", result.Detail);
        Assert.Contains("restore --tables=\"db.events,db.cp\" bp-r", result.Detail);
    }

    [Fact]
    public async Task Restoring_a_backup_the_server_does_not_have_fails_with_its_error()
    {
        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() =>
            Backend().RestoreAsync(BackupBackendTestData.Request("no-such", "db.events"), CancellationToken.None));

        Assert.Contains("'no-such' is not found on local storage", e.Message);
    }

    private string LastOperationId()
    {
        var ids = _server.Requests.Where(r => r.Path == "/backup/status").Select(r => r.Query["operationid"]).ToList();
        return ids[^1];
    }
}

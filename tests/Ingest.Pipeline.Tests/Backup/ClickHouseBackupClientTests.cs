using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>The clickhouse-backup client against <see cref="BackupApiServer"/>, which follows the REST contract (a real
/// clickhouse-backup binary is not installable here).</summary>
public sealed class ClickHouseBackupClientTests : IAsyncLifetime
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private BackupApiServer _server = null!;
    private ClickHouseBackupClient _client = null!;

    public Task InitializeAsync()
    {
        _server = BackupApiServer.Start();
        _client = Client(BackupApiServer.Password);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private ClickHouseBackupClient Client(string? password, string? user = BackupApiServer.User) =>
        new(_server.Url, user, password, requestTimeout: TimeSpan.FromSeconds(10), pollInterval: Poll);

    [Fact]
    public async Task Create_is_acknowledged_then_waited_for_until_success()
    {
        var ack = await _client.CreateAsync("bp-2026-12-01", ["db.events", "db.other"]);

        Assert.Equal("acknowledged", ack.Status);
        Assert.Equal("create", ack.Operation);
        Assert.Equal("bp-2026-12-01", ack.BackupName);
        Assert.False(string.IsNullOrEmpty(ack.OperationId));
        var create = Assert.Single(_server.Requests, r => r.Path == "/backup/create");
        Assert.Equal("POST", create.Method);
        Assert.Equal("bp-2026-12-01", create.Query["name"]);
        Assert.Equal("db.events,db.other", create.Query["table"]);
        Assert.DoesNotContain("schema", create.Query.Keys);
        Assert.DoesNotContain("rbac", create.Query.Keys);

        var done = await _client.WaitAsync(ack.OperationId!, Patience);

        Assert.Equal("success", done.Status);
        Assert.Equal("create --tables=\"db.events,db.other\" bp-2026-12-01", done.Command);
        Assert.Equal(ack.OperationId, done.OperationId);
        Assert.NotNull(done.Finish);
        // It saw the operation running before it saw it done: it polled, it did not take the first answer.
        Assert.True(_server.Requests.Count(r => r.Path == "/backup/status") >= 2);
        Assert.All(_server.Requests.Where(r => r.Path == "/backup/status"), r => Assert.Equal(ack.OperationId, r.Query["operationid"]));
        Assert.Contains(await _client.ListAsync(), b => b.Name == "bp-2026-12-01" && b.Location == "local");
    }

    [Fact]
    public async Task Flags_are_sent_by_presence_only()
    {
        var ack = await _client.CreateAsync("schema-only", options: new BackupCreateOptions { SchemaOnly = true, Rbac = false, Configs = true });
        await _client.WaitAsync(ack.OperationId!, Patience);

        var create = Assert.Single(_server.Requests, r => r.Path == "/backup/create");
        Assert.Equal("?name=schema-only&schema&configs", create.RawQuery);
    }

    [Fact]
    public async Task A_failed_operation_throws_with_the_error_row_text()
    {
        _server.Outcome = command => command.StartsWith("create", StringComparison.Ordinal)
            ? "can't freeze `db`.`events`: code: 60, message: Table db.events doesn't exist"
            : null;
        var ack = await _client.CreateAsync("broken");

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.WaitAsync(ack.OperationId!, Patience));

        Assert.Equal(BackupErrorKind.Failed, e.Kind);
        Assert.Equal("create", e.Operation);
        Assert.Equal("can't freeze `db`.`events`: code: 60, message: Table db.events doesn't exist", e.ServerError);
        Assert.Contains("(create broken)", e.Message, StringComparison.Ordinal);
        Assert.Contains("'error'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Table db.events doesn't exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_operation_while_one_runs_is_locked_and_status_is_not()
    {
        _server.OperationDuration = TimeSpan.FromSeconds(1);
        var first = await _client.CreateAsync("first");

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.CreateAsync("second"));
        var restore = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.RestoreAsync("first"));

        Assert.True(e.IsLocked);
        Assert.Equal(BackupErrorKind.Locked, e.Kind);
        Assert.Equal(System.Net.HttpStatusCode.Locked, e.Status);
        Assert.Equal("another operation is currently running", e.ServerError);
        Assert.Contains("another operation is running", e.Message, StringComparison.Ordinal);
        Assert.True(restore.IsLocked);
        Assert.Equal("restore", restore.Operation);
        // Reads are never locked.
        Assert.True((await _client.StatusAsync(first.OperationId!)).IsInProgress);
        Assert.NotEmpty(await _client.VersionAsync());

        await _client.WaitAsync(first.OperationId!, Patience);
        var second = await _client.CreateAsync("second");
        Assert.Equal("success", (await _client.WaitAsync(second.OperationId!, Patience)).Status);
    }

    [Fact]
    public async Task A_wait_that_runs_out_kills_the_operation_and_says_so()
    {
        _server.OperationDuration = TimeSpan.FromMinutes(5);
        var ack = await _client.CreateAsync("slow", ["db.events"]);

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.WaitAsync(ack.OperationId!, TimeSpan.FromMilliseconds(400)));

        Assert.Equal(BackupErrorKind.TimedOut, e.Kind);
        Assert.Equal("create", e.Operation);
        Assert.Contains($"operation {ack.OperationId} (create --tables=\"db.events\" slow) did not finish within 00:00:00.4000000", e.Message, StringComparison.Ordinal);
        Assert.Contains("still 'in progress'; killed it", e.Message, StringComparison.Ordinal);
        // The kill names the command exactly as the action row does: the server matches it whole.
        Assert.Equal(["create --tables=\"db.events\" slow"], _server.Kills);
        Assert.Equal("POST", Assert.Single(_server.Requests, r => r.Path == "/backup/kill").Method);
        var killed = await _client.StatusAsync(ack.OperationId!);
        Assert.Equal("cancel", killed.Status);
        Assert.Equal("canceled from API /backup/kill", killed.Error);
        // The slot is free again.
        _server.OperationDuration = TimeSpan.FromMilliseconds(50);
        var next = await _client.CreateAsync("after-kill");
        Assert.Equal("success", (await _client.WaitAsync(next.OperationId!, Patience)).Status);
    }

    [Fact]
    public async Task Restore_names_the_backup_in_the_path_and_sends_only_the_flags_asked_for()
    {
        _server.AddBackup("bp-1", "local", size: 1000);

        var ack = await _client.RestoreAsync("bp-1", new BackupRestoreOptions { Tables = ["db.events"], DropExisting = true });
        var done = await _client.WaitAsync(ack.OperationId!, Patience);

        Assert.Equal("restore", ack.Operation);
        Assert.Equal("restore --tables=\"db.events\" --drop bp-1", done.Command);
        var restore = Assert.Single(_server.Requests, r => r.Path.StartsWith("/backup/restore", StringComparison.Ordinal));
        Assert.Equal("POST", restore.Method);
        Assert.Equal("/backup/restore/bp-1", restore.Path);
        Assert.Equal("?table=db.events&drop", restore.RawQuery);
        Assert.DoesNotContain("name", restore.Query.Keys);
        Assert.DoesNotContain("schema", restore.Query.Keys);
        Assert.DoesNotContain("data", restore.Query.Keys);
        Assert.DoesNotContain("rm", restore.Query.Keys);
    }

    [Fact]
    public async Task A_restore_of_a_backup_the_server_lacks_fails_with_its_text()
    {
        var ack = await _client.RestoreAsync("nope", new BackupRestoreOptions { SchemaOnly = true });

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.WaitAsync(ack.OperationId!, Patience));

        Assert.Equal("?schema", Assert.Single(_server.Requests, r => r.Path == "/backup/restore/nope").RawQuery);
        Assert.Equal(BackupErrorKind.Failed, e.Kind);
        Assert.Equal("restore", e.Operation);
        Assert.Equal("'nope' is not found on local storage", e.ServerError);
    }

    [Fact]
    public async Task Upload_and_download_name_the_backup_in_the_path()
    {
        _server.AddBackup("bp-1", "local", size: 1000);
        var up = await _client.UploadAsync("bp-1", diffFrom: "bp-0");
        await _client.WaitAsync(up.OperationId!, Patience);
        var down = await _client.DownloadAsync("bp-1");
        await _client.WaitAsync(down.OperationId!, Patience);

        Assert.Equal("?diff-from=bp-0", Assert.Single(_server.Requests, r => r.Path == "/backup/upload/bp-1").RawQuery);
        Assert.Equal("", Assert.Single(_server.Requests, r => r.Path == "/backup/download/bp-1").RawQuery);
    }

    [Fact]
    public async Task List_rows_are_parsed_with_absent_sizes_as_zero()
    {
        Assert.Empty(await _client.ListAsync());
        _server.AddBackup("bp-1", "local", size: 123_456_789_012);
        _server.AddBackup("bp-1", "remote", size: 123_456_789_012, compressedSize: 42_000_000_000);
        _server.AddBackup("bp-2", "remote", required: "bp-1", desc: "broken (can't stat metadata.json)");

        var all = await _client.ListAsync();
        var remote = await _client.ListAsync(BackupLocation.Remote);

        Assert.Equal(3, all.Count);
        Assert.Equal(2, remote.Count);
        Assert.All(remote, b => Assert.Equal("remote", b.Location));
        var local = Assert.Single(await _client.ListAsync(BackupLocation.Local));
        Assert.Equal(new BackupListEntry("bp-1", "2026-12-01 21:00:00", 123_456_789_012, 123_456_788_912, 100, 0, "local", "", ""), local);
        Assert.Equal(42_000_000_000UL, remote[0].CompressedSize);
        Assert.Equal(0UL, remote[1].Size);
        Assert.Equal("bp-1", remote[1].Required);
        Assert.Equal("broken (can't stat metadata.json)", remote[1].Desc);
        Assert.Equal(["/backup/list", "/backup/list/remote", "/backup/list/local"], _server.Requests.Select(r => r.Path).Skip(1));
    }

    [Fact]
    public async Task A_wrong_password_is_a_clear_auth_error()
    {
        using var wrong = Client("wrong");
        using var none = Client(password: null, user: null);

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => wrong.CreateAsync("x"));
        var noAuth = await Assert.ThrowsAsync<ClickHouseBackupException>(() => none.ListAsync());

        Assert.Equal(BackupErrorKind.Unauthorized, e.Kind);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, e.Status);
        Assert.Contains("refused the credentials for create (401)", e.Message, StringComparison.Ordinal);
        Assert.Equal(BackupErrorKind.Unauthorized, noAuth.Kind);
        Assert.Equal("list", noAuth.Operation);
        // Nothing was started.
        Assert.Empty(await _client.ListAsync());
    }

    [Fact]
    public async Task An_unknown_operation_id_is_a_clear_error()
    {
        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.WaitAsync("00000000-0000-0000-0000-000000000000", Patience));

        Assert.Equal(BackupErrorKind.UnknownOperation, e.Kind);
        Assert.Contains("knows no operation 00000000-0000-0000-0000-000000000000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_row_answer_names_the_operation_and_the_server_text()
    {
        // Nothing ever ran: the server answers 500 with an error row (and no JSON content type).
        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.KillAsync());

        Assert.Equal(BackupErrorKind.Rejected, e.Kind);
        Assert.Equal("kill", e.Operation);
        Assert.Equal(System.Net.HttpStatusCode.InternalServerError, e.Status);
        Assert.Equal("empty command list", e.ServerError);
        Assert.Equal("clickhouse-backup kill failed (HTTP 500): empty command list", e.Message);
    }

    [Fact]
    public async Task A_wrong_base_address_gets_the_routers_plain_404_named()
    {
        using var misdirected = new ClickHouseBackupClient(new Uri(_server.Url, "backup"), BackupApiServer.User, BackupApiServer.Password,
            TimeSpan.FromSeconds(10));

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => misdirected.CreateAsync("x"));

        Assert.Equal("/backup/backup/create", Assert.Single(_server.Requests).Path);
        Assert.Equal(BackupErrorKind.Rejected, e.Kind);
        Assert.Equal("clickhouse-backup create failed (HTTP 404): 404 page not found", e.Message);
    }

    [Theory]
    [InlineData("two words")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a..b")]
    [InlineData("tab\tname")]
    [InlineData("")]
    public async Task A_name_the_server_would_rewrite_is_refused_before_sending(string name)
    {
        // The server strips whitespace, '..' and slashes from names (utils.CleanBackupNameRE): the backup would not be
        // called what the backup point recorded.
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _client.CreateAsync(name));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _client.RestoreAsync(name));
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task Cancelling_a_wait_stops_polling_and_leaves_the_operation_to_the_caller()
    {
        _server.OperationDuration = TimeSpan.FromMinutes(5);
        var ack = await _client.CreateAsync("cancelled-wait");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.WaitAsync(ack.OperationId!, Patience, cancel.Token));

        // Only a wait that ran out kills: a cancelled caller (worker stopping) decides for itself.
        Assert.Empty(_server.Kills);
        Assert.True((await _client.StatusAsync(ack.OperationId!)).IsInProgress);
    }

    [Fact]
    public async Task A_server_that_goes_away_during_a_wait_ends_in_a_timeout_that_says_why()
    {
        _server.OperationDuration = TimeSpan.FromMinutes(5);
        var ack = await _client.CreateAsync("orphan");
        await _server.DisposeAsync();

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => _client.WaitAsync(ack.OperationId!, TimeSpan.FromMilliseconds(500)));

        Assert.Equal(BackupErrorKind.TimedOut, e.Kind);
        Assert.Contains("its status could not be read", e.Message, StringComparison.Ordinal);
        // Never having read its command, it does not kill blindly (a bare kill stops whatever runs).
        Assert.Contains("not killed: its command was never read", e.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(e.InnerException);
    }

    [Fact]
    public async Task A_server_that_goes_away_after_the_operation_was_seen_running_is_asked_to_kill_it()
    {
        _server.OperationDuration = TimeSpan.FromMinutes(5);
        var ack = await _client.CreateAsync("gone-later");
        // Long enough that the server is gone well before the deadline, even on a loaded machine: the last poll then
        // fails rather than reading "in progress".
        var wait = _client.WaitAsync(ack.OperationId!, TimeSpan.FromSeconds(5));
        var until = DateTime.UtcNow + Patience;
        while (_server.Requests.Count(r => r.Path == "/backup/status") < 2)
        {
            Assert.True(DateTime.UtcNow < until, "the wait never polled twice");
            await Task.Delay(10);
        }
        await _server.DisposeAsync();

        var e = await Assert.ThrowsAsync<ClickHouseBackupException>(() => wait);

        Assert.Equal(BackupErrorKind.TimedOut, e.Kind);
        Assert.Contains("(create gone-later) did not finish within 00:00:05: its status could not be read", e.Message, StringComparison.Ordinal);
        Assert.Contains("; could not kill it (", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_trusts_the_given_ca_only()
    {
        await using var tls = TlsVersionServer.Start();
        using var trusting = new ClickHouseBackupClient(tls.Url, BackupApiServer.User, BackupApiServer.Password, TimeSpan.FromSeconds(10),
            caCertificates: [tls.Certificate]);
        using var otherCa = TlsVersionServer.SelfSigned();
        using var pinnedElsewhere = new ClickHouseBackupClient(tls.Url, BackupApiServer.User, BackupApiServer.Password, TimeSpan.FromSeconds(10),
            caCertificates: [otherCa]);

        Assert.Equal("2.6.99-tls", await trusting.VersionAsync());
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => pinnedElsewhere.VersionAsync());
        Assert.StartsWith($"TLS handshake with clickhouse-backup at {tls.Url.Authority} failed: its certificate (CN=127.0.0.1, issued by CN=127.0.0.1) does not chain to the configured CA certificate(s)",
            e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_is_read()
    {
        Assert.Equal("2.6.99-contract", await _client.VersionAsync());
    }
}

namespace Ingest.Pipeline.Backup;

/// <summary>The "clickhouse-backup" backend: a local backup named after the point through clickhouse-backup's REST API
/// (<see cref="ClickHouseBackupClient"/>), of the request's tables only, waited for until it ends. Another operation
/// holding the server's one slot (423) fails the backup with the client's "another operation is running" message.
/// Cancelled, or still running after <paramref name="waitTimeout"/>: the operation is killed
/// (<c>/backup/kill?command=</c> with its own command) and <see cref="OperationCanceledException"/> is thrown. A restore
/// is clickhouse-backup's restore of those tables (schema and data, no <c>drop</c>). The client is owned when
/// <paramref name="ownsClient"/>.</summary>
internal sealed class ClickHouseBackupBackend(ClickHouseBackupClient client, TimeSpan waitTimeout, bool ownsClient = false) : IBackupBackend, IDisposable
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    public string Name => "clickhouse-backup";

    public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Tables.Count == 0) throw new ArgumentException("a backup needs at least one table", nameof(request));
        var ack = await client.CreateAsync(request.Name, request.Tables, ct: ct).ConfigureAwait(false);
        var done = await WaitAsync(ack.OperationId!, ct).ConfigureAwait(false);
        return new BackupResult($"clickhouse-backup {done.Command} on {client.Endpoint.Authority}: {done.Status}");
    }

    public async Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Tables.Count == 0) throw new ArgumentException("a restore needs at least one table", nameof(request));
        var ack = await client.RestoreAsync(request.Name, new BackupRestoreOptions { Tables = request.Tables }, ct).ConfigureAwait(false);
        var done = await WaitAsync(ack.OperationId!, ct).ConfigureAwait(false);
        return new BackupResult($"clickhouse-backup {done.Command} on {client.Endpoint.Authority}: {done.Status}");
    }

    private async Task<BackupAction> WaitAsync(string operationId, CancellationToken ct)
    {
        try
        {
            return await client.WaitAsync(operationId, waitTimeout, ct).ConfigureAwait(false);
        }
        catch (ClickHouseBackupException e) when (e.Kind == BackupErrorKind.TimedOut)
        {
            // WaitAsync killed it already (its message says whether the kill went through).
            throw new OperationCanceledException(e.Message, e);
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            var killed = await KillAsync(operationId).ConfigureAwait(false);
            throw new OperationCanceledException($"clickhouse-backup operation {operationId} was cancelled; {killed}", e, ct);
        }
    }

    /// <summary>Kills by the operation's exact command, read from its status row: a kill without one would stop whatever
    /// runs, which may be someone else's operation. Bounded by its own timeout, not the (cancelled) caller's token.</summary>
    private async Task<string> KillAsync(string operationId)
    {
        using var timeout = new CancellationTokenSource(KillTimeout);
        try
        {
            var row = await client.StatusAsync(operationId, timeout.Token).ConfigureAwait(false);
            if (!row.IsInProgress) return $"not killed: it had already ended '{row.Status}'";
            await client.KillAsync(row.Command, timeout.Token).ConfigureAwait(false);
            return $"killed '{row.Command}'";
        }
        catch (Exception e) when (e is ClickHouseBackupException or HttpRequestException or TimeoutException or OperationCanceledException)
        {
            return $"could not kill it ({e.Message})";
        }
    }

    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }
}

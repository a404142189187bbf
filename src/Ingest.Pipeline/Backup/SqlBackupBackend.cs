using System.Globalization;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>Runs one SQL statement on one server and returns its text answer (TabSeparated unless the statement names a
/// FORMAT). ClickHouse over HTTP in production; chDB in process in the tests.</summary>
internal interface ISqlRunner
{
    /// <summary>Names the server in messages (host:port).</summary>
    string Server { get; }

    Task<string> QueryAsync(string sql, CancellationToken ct);
}

/// <summary><see cref="ISqlRunner"/> over ClickHouse's HTTP interface; the client is not owned.</summary>
internal sealed class HttpSqlRunner(ClickHouseHttpClient client) : ISqlRunner
{
    public string Server => client.Endpoint.Authority;

    public Task<string> QueryAsync(string sql, CancellationToken ct) => client.QueryAsync(sql, ct: ct);
}

/// <summary>A SQL BACKUP or RESTORE the server refused, failed or lost.</summary>
internal sealed class SqlBackupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Backups by ClickHouse's own <c>BACKUP … TO &lt;destination&gt; ASYNC</c> (22.x and later): the statement
/// returns the operation's id at once and the work runs on the server; it is polled in <c>system.backups</c> until it
/// ends. A restore is <c>RESTORE … FROM … ASYNC</c>, polled the same way. The destination (Ingest:Backup:Sql:Destination)
/// must be allowed by the server's <c>backups.allowed_disk</c>/<c>allowed_path</c> config, else the operation ends in
/// BACKUP_FAILED with code 318 (measured on chDB 26.7); docs/backup-backends.md has what was verified where.
/// <para>Cancelled: the backup is killed by <c>KILL QUERY</c> on the query id <c>system.backups</c> gives it (ClickHouse
/// 24.1 and later, ClickHouse/ClickHouse#58804; the operation then ends as BACKUP_CANCELLED), and
/// <see cref="OperationCanceledException"/> is thrown.</para></summary>
internal sealed class SqlBackupBackend : IBackupBackend
{
    /// <summary>SQL BACKUP/RESTORE appeared in 22.x (experimental before 22.4); older servers answer a syntax error.</summary>
    private const int FirstMajorWithBackup = 22;

    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    private readonly ISqlRunner _sql;
    private readonly string _destination;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _time;

    /// <summary><paramref name="destination"/>: the BACKUP destination with <c>{name}</c> where the backup's name goes,
    /// e.g. <c>Disk('backups', '{name}')</c>.</summary>
    public SqlBackupBackend(ISqlRunner sql, string destination, TimeSpan? pollInterval = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(sql);
        if (string.IsNullOrWhiteSpace(destination) || !destination.Contains("{name}", StringComparison.Ordinal))
            throw new ArgumentException($"the SQL backup destination '{destination}' must contain {{name}} (Ingest:Backup:Sql:Destination)", nameof(destination));
        _sql = sql;
        _destination = destination;
        _pollInterval = pollInterval ?? TimeSpan.FromSeconds(1);
        if (_pollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(pollInterval), pollInterval, "must be positive");
        _time = time ?? TimeProvider.System;
    }

    public string Name => "sql";

    /// <summary>The destination for backup <paramref name="name"/>: {name} replaced.</summary>
    public string DestinationOf(string name)
    {
        // The name goes inside the destination's string literal: no quotes, separators or parent steps.
        FreezeBackend.ValidateBackupName(name);
        return _destination.Replace("{name}", name, StringComparison.Ordinal);
    }

    public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var destination = DestinationOf(request.Name);
        var tables = TableList(request.Tables);
        await RequireSqlBackupAsync(ct).ConfigureAwait(false);
        var id = await StartAsync($"BACKUP {tables} TO {destination} ASYNC", "BACKUP", ct).ConfigureAwait(false);
        var row = await WaitAsync(id, "BACKUP", "BACKUP_CREATED", ct).ConfigureAwait(false);
        return new BackupResult(
            $"BACKUP of {request.Tables.Count} tables to {destination} on {_sql.Server}: BACKUP_CREATED ({row.Files} files, {row.Bytes} bytes)");
    }

    public async Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var destination = DestinationOf(request.Name);
        var tables = TableList(request.Tables);
        await RequireSqlBackupAsync(ct).ConfigureAwait(false);
        foreach (var table in request.Tables) await RestoreTarget.RequireMissingOrEmptyAsync(_sql, table, ct).ConfigureAwait(false);
        var id = await StartAsync($"RESTORE {tables} FROM {destination} ASYNC", "RESTORE", ct).ConfigureAwait(false);
        var row = await WaitAsync(id, "RESTORE", "RESTORED", ct).ConfigureAwait(false);
        return new BackupResult($"RESTORE of {request.Tables.Count} tables from {destination} on {_sql.Server}: RESTORED ({row.Files} files, {row.Bytes} bytes)");
    }

    private static string TableList(IReadOnlyList<string> tables)
    {
        if (tables.Count == 0) throw new ArgumentException("a backup needs at least one table", nameof(tables));
        return string.Join(", ", tables.Select(t =>
        {
            var (db, table) = FreezeBackend.ParseTable(t);
            return $"TABLE {FreezeBackend.Quote(db)}.{FreezeBackend.Quote(table)}";
        }));
    }

    /// <summary>Asks the version first: 18.16 answers BACKUP with a bare syntax error that says nothing of why.</summary>
    private async Task RequireSqlBackupAsync(CancellationToken ct)
    {
        var version = (await _sql.QueryAsync("SELECT version()", ct).ConfigureAwait(false)).Trim();
        var dot = version.IndexOf('.', StringComparison.Ordinal);
        if (!int.TryParse(dot < 0 ? version : version[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var major))
            throw new SqlBackupException($"{_sql.Server} answered '{version}' to SELECT version(): not a ClickHouse version");
        if (major < FirstMajorWithBackup)
            throw new SqlBackupException($"{_sql.Server} (ClickHouse {version}) has no SQL BACKUP (22.x and later); use the freeze backend");
    }

    /// <summary>Runs the ASYNC statement; its answer is one row <c>id, status</c>.</summary>
    private async Task<string> StartAsync(string statement, string verb, CancellationToken ct)
    {
        string answer;
        try
        {
            answer = await _sql.QueryAsync(statement, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new SqlBackupException($"{verb} on {_sql.Server} was refused: {ServerText(e.Message)} (statement: {statement})", e);
        }
        var id = answer.Split('\t', '\n')[0].Trim();
        if (!Guid.TryParse(id, out _))
            throw new SqlBackupException($"{verb} on {_sql.Server} answered no operation id (answer: '{answer.Trim()}') to: {statement}");
        return id;
    }

    /// <summary>Polls the operation's <c>system.backups</c> row until it leaves CREATING_BACKUP/RESTORING.</summary>
    private async Task<BackupsRow> WaitAsync(string id, string verb, string success, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                BackupsRow? row;
                try
                {
                    row = await ReadRowAsync(id, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (IsTransient(e, ct))
                {
                    // The operation runs on the server whether or not a poll gets through: keep asking until the caller's
                    // deadline (the point's timeout) rather than abandon a backup that may well finish.
                    await Task.Delay(_pollInterval, _time, ct).ConfigureAwait(false);
                    continue;
                }
                if (row is null)
                    throw new SqlBackupException(
                        $"{_sql.Server} has no row for {verb} {id} in system.backups: the server restarted (system.backups is not kept across restarts) or the row was removed");
                if (row.Status == success) return row;
                if (row.Status.EndsWith("_FAILED", StringComparison.Ordinal))
                    throw new SqlBackupException($"{verb} {id} on {_sql.Server} ended {row.Status}: {ServerText(row.Error)}");
                if (row.Status.EndsWith("_CANCELLED", StringComparison.Ordinal))
                    throw new SqlBackupException($"{verb} {id} on {_sql.Server} ended {row.Status}: it was killed on the server");
                await Task.Delay(_pollInterval, _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            var killed = await KillAsync(id).ConfigureAwait(false);
            throw new OperationCanceledException($"{verb} {id} on {_sql.Server} was cancelled; {killed}", e, ct);
        }
    }

    /// <summary>KILL QUERY on the operation's query id, looked up on the server so a kill before the first poll still
    /// finds it. Not bounded by the caller's (cancelled) token: by its own short timeout.</summary>
    private async Task<string> KillAsync(string id)
    {
        using var timeout = new CancellationTokenSource(KillTimeout);
        try
        {
            var answer = await _sql.QueryAsync($"KILL QUERY WHERE query_id IN (SELECT query_id FROM system.backups WHERE id = '{id}') ASYNC", timeout.Token)
                .ConfigureAwait(false);
            return answer.Trim().Length == 0 ? "no running query to kill (it had ended)" : "KILL QUERY sent for its query";
        }
        catch (Exception e)
        {
            return $"KILL QUERY failed ({ServerText(e.Message)})";
        }
    }

    private static bool IsTransient(Exception e, CancellationToken ct) =>
        e is HttpRequestException or TimeoutException or ClickHouseServerException { IsRetryable: true }
        || (e is TaskCanceledException && !ct.IsCancellationRequested);

    private async Task<BackupsRow?> ReadRowAsync(string id, CancellationToken ct)
    {
        var text = await _sql.QueryAsync($"SELECT * FROM system.backups WHERE id = '{id}' FORMAT JSONEachRow", ct).ConfigureAwait(false);
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (line is null) return null;
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        return new BackupsRow(Text(root, "status") ?? "", Text(root, "error") ?? "", Text(root, "num_files") ?? "?", Text(root, "total_size") ?? "?");
    }

    /// <summary>64-bit numbers come quoted or not depending on output_format_json_quote_64bit_integers.</summary>
    private static string? Text(JsonElement row, string name) => row.TryGetProperty(name, out var v)
        ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        }
        : null;

    /// <summary>The server's message without the stack trace modern servers append to system.backups' error.</summary>
    private static string ServerText(string error)
    {
        var cut = error.IndexOf(", Stack trace", StringComparison.Ordinal);
        var text = (cut < 0 ? error : error[..cut]).Trim();
        return text.Length > 1000 ? text[..1000] + "…" : text;
    }

    private sealed record BackupsRow(string Status, string Error, string Files, string Bytes);
}

/// <summary>The check every restore makes first: a table is restored only into nothing (missing) or an empty table, never
/// over rows it holds.</summary>
internal static class RestoreTarget
{
    /// <summary>True when <paramref name="table"/> exists (and is empty); false when it is missing; throws when it holds
    /// rows, naming the table, the server and the count.</summary>
    public static async Task<bool> RequireMissingOrEmptyAsync(ISqlRunner sql, string table, CancellationToken ct)
    {
        var (db, name) = FreezeBackend.ParseTable(table);
        var quoted = $"{FreezeBackend.Quote(db)}.{FreezeBackend.Quote(name)}";
        var exists = (await sql.QueryAsync($"EXISTS TABLE {quoted}", ct).ConfigureAwait(false)).Trim() == "1";
        if (!exists) return false;
        var rows = long.Parse((await sql.QueryAsync($"SELECT count() FROM {quoted}", ct).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
        if (rows > 0)
            throw new InvalidOperationException(
                $"{db}.{name} on {sql.Server} holds {rows} rows: restore into a missing or empty table (drop or truncate it first)");
        return true;
    }
}

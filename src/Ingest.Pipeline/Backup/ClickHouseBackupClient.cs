using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>Altinity clickhouse-backup's REST API (<c>clickhouse-backup server</c>, port 7171 by default), as
/// docs/backup-backends.md and /work/shared/notes/clickhouse-backup-api.md describe it: mutating calls are acknowledged
/// at once and run in the background, one at a time; <see cref="WaitAsync"/> polls their action row until it leaves
/// "in progress". Every request is bounded by the request timeout, every wait by its own timeout.</summary>
internal sealed class ClickHouseBackupClient : IDisposable
{
    /// <summary>Answers are small rows; a list of thousands of backups still fits. Anything bigger is not this API.</summary>
    private const int MaxAnswerBytes = 16 * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AuthenticationHeaderValue? _auth;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _time;
    private readonly CaPinning _pinning = new();

    /// <summary><paramref name="endpoint"/>: the API's base, e.g. http://clickhouse-backup:7171/.
    /// <paramref name="caCertificates"/>, for https (<c>api.secure</c>): trust only these CAs, as
    /// Ingest:ClickHouse:CaCertificateFile does for ClickHouse; not owned. <paramref name="requestTimeout"/> bounds each
    /// HTTP call (default 30 s), not the background operation: that is <see cref="WaitAsync"/>'s timeout.</summary>
    public ClickHouseBackupClient(Uri endpoint, string? user = null, string? password = null, TimeSpan? requestTimeout = null,
        X509Certificate2Collection? caCertificates = null, HttpClient? http = null, TimeSpan? pollInterval = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (http is not null && caCertificates is not null)
            throw new ArgumentException("caCertificates apply to the client's own handler; configure the given HttpClient's handler instead", nameof(caCertificates));
        // A base without the trailing slash would lose its last segment when routes are appended to it.
        Endpoint = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        _ownsHttp = http is null;
        _http = http ?? new HttpClient(CreateHandler(caCertificates))
        {
            Timeout = requestTimeout ?? TimeSpan.FromSeconds(30),
            MaxResponseContentBufferSize = MaxAnswerBytes,
        };
        if (!string.IsNullOrEmpty(user))
            _auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        _pollInterval = pollInterval ?? TimeSpan.FromSeconds(1);
        if (_pollInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(pollInterval), pollInterval, "must be positive");
        _time = time ?? TimeProvider.System;
    }

    public Uri Endpoint { get; }

    private SocketsHttpHandler CreateHandler(X509Certificate2Collection? caCertificates)
    {
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2), ConnectTimeout = TimeSpan.FromSeconds(10) };
        // The same pinning as ClickHouse endpoints get (Ingest:ClickHouse:CaCertificateFile): only these CAs, host
        // name still checked.
        _pinning.Apply(handler, caCertificates);
        return handler;
    }

    /// <summary><c>POST /backup/create?name=N</c> (201): a local backup of <paramref name="tables"/> (all when null).
    /// Returns the acknowledgement; wait for its <see cref="BackupAcknowledgement.OperationId"/>.</summary>
    public Task<BackupAcknowledgement> CreateAsync(string name, IReadOnlyList<string>? tables = null, BackupCreateOptions? options = null,
        CancellationToken ct = default)
    {
        CheckName(name);
        var query = new Query().Add("name", name).AddTables(tables);
        if (options is not null)
        {
            if (!string.IsNullOrEmpty(options.Partitions)) query.Add("partitions", options.Partitions);
            query.Flag("schema", options.SchemaOnly).Flag("rbac", options.Rbac).Flag("configs", options.Configs);
        }
        return AcknowledgedAsync("create", "backup/create", query, ct);
    }

    /// <summary><c>POST /backup/restore/{name}</c> (200): the name goes in the path, unlike create's.</summary>
    public Task<BackupAcknowledgement> RestoreAsync(string name, BackupRestoreOptions? options = null, CancellationToken ct = default)
    {
        CheckName(name);
        options ??= new BackupRestoreOptions();
        if (options.SchemaOnly && options.DataOnly)
            throw new ArgumentException("a restore is schema-only or data-only, not both", nameof(options));
        var query = new Query().AddTables(options.Tables)
            .Flag("drop", options.DropExisting).Flag("schema", options.SchemaOnly).Flag("data", options.DataOnly).Flag("rbac", options.Rbac);
        return AcknowledgedAsync("restore", "backup/restore/" + Uri.EscapeDataString(name), query, ct);
    }

    /// <summary><c>POST /backup/upload/{name}</c> (200) to the configured remote storage; <paramref name="diffFrom"/>
    /// makes it incremental against that local backup (<c>diff-from=</c>).</summary>
    public Task<BackupAcknowledgement> UploadAsync(string name, string? diffFrom = null, CancellationToken ct = default)
    {
        CheckName(name);
        var query = new Query();
        if (!string.IsNullOrEmpty(diffFrom)) query.Add("diff-from", diffFrom);
        return AcknowledgedAsync("upload", "backup/upload/" + Uri.EscapeDataString(name), query, ct);
    }

    /// <summary><c>POST /backup/download/{name}</c> (200) from remote storage to local.</summary>
    public Task<BackupAcknowledgement> DownloadAsync(string name, CancellationToken ct = default)
    {
        CheckName(name);
        return AcknowledgedAsync("download", "backup/download/" + Uri.EscapeDataString(name), new Query(), ct);
    }

    /// <summary><c>GET /backup/status?operationid=</c>: that operation's action row. Never locked.</summary>
    public async Task<BackupAction> StatusAsync(string operationId, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operationId);
        var rows = await RowsAsync("status", HttpMethod.Get, "backup/status", new Query().Add("operationid", operationId), BackupJsonContext.Default.BackupAction, ct)
            .ConfigureAwait(false);
        // An id the server does not know (a typo, or a server restarted since: actions live in its memory) is an empty
        // body, not an error row. A row naming another id is not an answer about this one (a server that ignores
        // operationid answers its last action).
        var row = rows.LastOrDefault(r => r.OperationId == operationId) ?? rows.LastOrDefault(r => r.OperationId is null);
        return row ?? throw new ClickHouseBackupException(BackupErrorKind.UnknownOperation, "status",
            $"clickhouse-backup at {Endpoint.Authority} knows no operation {operationId} (empty status answer): it was never started there, or the server restarted since");
    }

    /// <summary>Polls <see cref="StatusAsync"/> until the operation leaves "in progress" and returns its row when it is
    /// "success". Any other end (error, cancel) throws <see cref="BackupErrorKind.Failed"/> with the row's error. Still
    /// running after <paramref name="timeout"/>: the operation is killed (<c>POST /backup/kill</c>, which frees the
    /// server's one slot) and <see cref="BackupErrorKind.TimedOut"/> is thrown. A poll that fails to connect is tried
    /// again until the timeout: the operation runs on the server whether or not this client hears about it.</summary>
    public async Task<BackupAction> WaitAsync(string operationId, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operationId);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "must be positive");
        var started = _time.GetTimestamp();
        BackupAction? last = null;
        Exception? lastPollError = null;
        while (true)
        {
            try
            {
                last = await StatusAsync(operationId, ct).ConfigureAwait(false);
                lastPollError = null;
            }
            catch (Exception e) when (IsTransient(e, ct)
                // Seen running before, unknown now: the server lost its in-memory action log (restarted) or the answer
                // came from something else on its address. Not the verdict on the operation: keep asking until the deadline.
                || (e is ClickHouseBackupException { Kind: BackupErrorKind.UnknownOperation } && last is not null))
            {
                lastPollError = e;
            }
            if (last is { IsInProgress: false } && lastPollError is null)
            {
                if (last.Succeeded) return last;
                throw new ClickHouseBackupException(BackupErrorKind.Failed, OperationOf(last),
                    $"clickhouse-backup operation {operationId} ({last.Command}) ended with status '{last.Status}': {last.Error ?? "(no error text)"}",
                    serverError: last.Error);
            }
            var left = timeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero) break;
            await Task.Delay(left < _pollInterval ? left : _pollInterval, _time, ct).ConfigureAwait(false);
        }

        // Kill by the row's exact command (the server matches it whole): a kill without one would stop whatever runs,
        // which may be someone else's operation.
        var killed = "not killed: its command was never read";
        if (last?.Command is { Length: > 0 } command)
        {
            try
            {
                await KillAsync(command, ct).ConfigureAwait(false);
                killed = "killed it";
            }
            catch (Exception e) when (e is ClickHouseBackupException || IsTransient(e, ct))
            {
                killed = $"could not kill it ({e.Message})";
            }
        }
        var state = lastPollError is not null ? $"its status could not be read ({lastPollError.Message})" : $"still '{last?.Status}'";
        throw new ClickHouseBackupException(BackupErrorKind.TimedOut, last is null ? "status" : OperationOf(last),
            $"clickhouse-backup operation {operationId} ({last?.Command ?? "command unknown"}) did not finish within {timeout}: {state}; {killed}",
            inner: lastPollError);
    }

    /// <summary><c>POST /backup/kill[?command=]</c>: stops the running command (the one named, when given, e.g.
    /// "create N" from its action row). Never locked: it is how a stuck operation frees the slot.</summary>
    public async Task KillAsync(string? command = null, CancellationToken ct = default)
    {
        var query = new Query();
        if (!string.IsNullOrEmpty(command)) query.Add("command", command);
        using var _ = await SendAsync("kill", HttpMethod.Post, "backup/kill", query, ct).ConfigureAwait(false);
    }

    /// <summary><c>GET /backup/list[/local|/remote]</c>: one row per backup, an empty body for none.</summary>
    public async Task<IReadOnlyList<BackupListEntry>> ListAsync(BackupLocation where = BackupLocation.All, CancellationToken ct = default)
    {
        var path = where switch
        {
            BackupLocation.Local => "backup/list/local",
            BackupLocation.Remote => "backup/list/remote",
            _ => "backup/list",
        };
        return await RowsAsync("list", HttpMethod.Get, path, new Query(), BackupJsonContext.Default.BackupListEntry, ct).ConfigureAwait(false);
    }

    /// <summary><c>GET /backup/version</c>: the server's version; also a cheap check of address and credentials.</summary>
    public async Task<string> VersionAsync(CancellationToken ct = default)
    {
        var rows = await RowsAsync("version", HttpMethod.Get, "backup/version", new Query(), BackupJsonContext.Default.BackupVersion, ct).ConfigureAwait(false);
        return rows.Count > 0 && !string.IsNullOrEmpty(rows[0].Version)
            ? rows[0].Version!
            : throw new ClickHouseBackupException(BackupErrorKind.BadAnswer, "version", $"clickhouse-backup at {Endpoint.Authority} answered no version");
    }

    private async Task<BackupAcknowledgement> AcknowledgedAsync(string operation, string path, Query query, CancellationToken ct)
    {
        var rows = await RowsAsync(operation, HttpMethod.Post, path, query, BackupJsonContext.Default.BackupAcknowledgement, ct).ConfigureAwait(false);
        if (rows.Count == 0 || rows[0].Status != "acknowledged" || string.IsNullOrEmpty(rows[0].OperationId))
            throw new ClickHouseBackupException(BackupErrorKind.BadAnswer, operation,
                $"clickhouse-backup {operation} was not acknowledged with an operation id (answer: {(rows.Count == 0 ? "empty" : rows[0].ToString())})");
        return rows[0];
    }

    private async Task<List<T>> RowsAsync<T>(string operation, HttpMethod method, string path, Query query, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendAsync(operation, method, path, query, ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        var rows = new List<T>();
        foreach (var line in Lines(body))
        {
            // No error-row check here: the server sends those with 4xx/5xx only (SendAsync's), and a finished action row
            // also says "status":"error" — that is an answer about the operation, for WaitAsync to judge.
            try
            {
                rows.Add(JsonSerializer.Deserialize(line, type) ?? throw new JsonException("null row"));
            }
            catch (JsonException e)
            {
                throw new ClickHouseBackupException(BackupErrorKind.BadAnswer, operation,
                    $"clickhouse-backup {operation} answered a row that is not the expected JSON ({e.Message}): {Clip(line)}", response.StatusCode, inner: e);
            }
        }
        return rows;
    }

    /// <summary>Sends one request; a non-2xx answer becomes a <see cref="ClickHouseBackupException"/> with the error
    /// row's text (423: <see cref="BackupErrorKind.Locked"/>, 401: <see cref="BackupErrorKind.Unauthorized"/>).</summary>
    private async Task<HttpResponseMessage> SendAsync(string operation, HttpMethod method, string path, Query query, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(Endpoint, path + query));
        request.Headers.Authorization = _auth;
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation; the caller did not cancel anything.
            throw new TimeoutException($"clickhouse-backup {operation} at {Endpoint.Authority} did not answer within {_http.Timeout}", e);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw _pinning.Explain(e, $"clickhouse-backup at {Endpoint.Authority}");
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            var row = Lines(body).Select(l => TryErrorRow(l, out var e) ? e : null).FirstOrDefault(e => e is not null);
            var text = row?.Error ?? Clip(body.Trim());
            var named = row?.Operation ?? operation;
            var (kind, message) = response.StatusCode switch
            {
                HttpStatusCode.Locked => (BackupErrorKind.Locked,
                    $"clickhouse-backup refused {named}: another operation is running (423 Locked: {text}); wait for it or kill it"),
                HttpStatusCode.Unauthorized => (BackupErrorKind.Unauthorized,
                    $"clickhouse-backup at {Endpoint.Authority} refused the credentials for {named} (401): check the API user and password"),
                _ => (BackupErrorKind.Rejected, $"clickhouse-backup {named} failed (HTTP {(int)response.StatusCode}): {text}"),
            };
            throw new ClickHouseBackupException(kind, named, message, response.StatusCode, text);
        }
    }

    private static bool TryErrorRow(string line, out BackupErrorRow error)
    {
        error = null!;
        if (!line.Contains("\"error\"", StringComparison.Ordinal)) return false;
        try
        {
            var row = JsonSerializer.Deserialize(line, BackupJsonContext.Default.BackupErrorRow);
            if (row?.Status != "error") return false;
            error = row;
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static IEnumerable<string> Lines(string body) =>
        body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>"create N" → "create": the command's verb is the operation's name.</summary>
    private static string OperationOf(BackupAction row)
    {
        var command = row.Command ?? "";
        var space = command.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? command : command[..space];
    }

    private static bool IsTransient(Exception e, CancellationToken ct) =>
        e is HttpRequestException or TimeoutException || (e is TaskCanceledException && !ct.IsCancellationRequested);

    private static string Clip(string text) => text.Length > 500 ? text[..500] + "…" : text;

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        // The server silently strips whitespace, '..' and slashes from names (utils.CleanBackupNameRE): the backup would
        // exist under another name than the one a backup point records.
        if (name.AsSpan().IndexOfAny(" \t\r\n/\\") >= 0 || name.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"backup name '{name}' has whitespace, '..' or a slash, which clickhouse-backup strips", nameof(name));
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    /// <summary>A query string where a flag is a key alone (<c>&amp;schema</c>): the server switches on presence, so a
    /// false flag is simply not sent.</summary>
    private sealed class Query
    {
        private readonly StringBuilder _text = new();

        public Query Add(string key, string value)
        {
            _text.Append(_text.Length == 0 ? '?' : '&').Append(key).Append('=').Append(Uri.EscapeDataString(value));
            return this;
        }

        public Query Flag(string key, bool on)
        {
            if (on) _text.Append(_text.Length == 0 ? '?' : '&').Append(key);
            return this;
        }

        /// <summary>The server reads only the first <c>table</c> value, as a comma-separated list of patterns.</summary>
        public Query AddTables(IReadOnlyList<string>? tables)
        {
            if (tables is { Count: > 0 }) Add("table", string.Join(',', tables));
            return this;
        }

        public override string ToString() => _text.ToString();
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>An in-process stand-in for <c>clickhouse-backup server</c>'s REST API, faithful to the contract in
/// /work/shared/notes/clickhouse-backup-api.md (read from Altinity/clickhouse-backup pkg/server, pkg/status): bodies
/// are newline-delimited JSON; mutating calls are acknowledged (create 201, the others 200) and run in the background
/// as an action row "in progress" → "success" | "error" | "cancel"; one at a time (a second one: 423 Locked); status,
/// list and version are never locked; basic auth or user=/pass= in the query (401 otherwise); flags count by presence
/// of the key; restore/upload/download take the name in the path; an unknown operation id answers an empty body.
/// Every request is recorded so tests can assert what was sent.</summary>
internal sealed class BackupApiServer : IAsyncDisposable
{
    public const string User = "backup";
    public const string Password = "s3cret-backup";

    private readonly HttpListener _listener;
    private readonly Task _loop;
    private readonly Lock _gate = new();
    private readonly List<ActionRow> _actions = [];
    private readonly List<JsonObject> _backups = [];
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly ConcurrentQueue<string> _kills = new();
    private readonly List<Task> _running = [];
    private (ActionRow Row, CancellationTokenSource Cancel, TaskCompletionSource Done)? _current;
    private int _disposed;

    private BackupApiServer(HttpListener listener, Uri url)
    {
        _listener = listener;
        Url = url;
        _loop = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    /// <summary>How long a background operation stays "in progress".</summary>
    public TimeSpan OperationDuration { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Given the command ("create N"), the error it ends with, or null for success.</summary>
    public Func<string, string?> Outcome { get; set; } = _ => null;

    public IReadOnlyCollection<Request> Requests => _requests;

    /// <summary>The <c>command=</c> of every kill ("" when none was named).</summary>
    public IReadOnlyCollection<string> Kills => _kills;

    public static BackupApiServer Start()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = 20000 + Random.Shared.Next(0, 12000);
            var url = new Uri($"http://127.0.0.1:{port}/");
            var listener = new HttpListener();
            listener.Prefixes.Add(url.ToString());
            try
            {
                listener.Start();
                return new BackupApiServer(listener, url);
            }
            catch (HttpListenerException) when (attempt < 50)
            {
                listener.Close();
            }
        }
    }

    /// <summary>A backup in the list, as the server shows it (sizes left out when zero, like its omitempty).</summary>
    public void AddBackup(string name, string location, ulong size = 0, ulong compressedSize = 0, string required = "", string desc = "")
    {
        var row = new JsonObject { ["name"] = name, ["created"] = "2026-12-01 21:00:00" };
        if (size > 0)
        {
            row["size"] = size;
            row["data_size"] = size - 100;
        }
        row["metadata_size"] = 100;
        if (compressedSize > 0) row["compressed_size"] = compressedSize;
        row["location"] = location;
        row["required"] = required;
        row["desc"] = desc;
        lock (_gate) _backups.Add(row);
    }

    public ActionRow? Action(string operationId)
    {
        lock (_gate) return _actions.FirstOrDefault(a => a.OperationId == operationId);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Handle(context));
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            var url = context.Request.Url!;
            var query = ParseQuery(url.Query);
            var request = new Request(context.Request.HttpMethod, url.AbsolutePath, url.Query, query);
            _requests.Enqueue(request);
            if (!Authorized(context.Request, query))
            {
                response.AddHeader("WWW-Authenticate", "Basic realm=\"Provide username and password\"");
                Write(response, 401, "401 Unauthorized\n", json: false);
                return;
            }
            Route(request, response);
        }
        catch (Exception e)
        {
            Write(response, 500, ErrorRow("server", e.Message), json: false);
        }
    }

    private void Route(Request request, HttpListenerResponse response)
    {
        var path = request.Path.TrimEnd('/');
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length < 2 || segments[0] != "backup")
        {
            Write(response, 404, "404 page not found\n", json: false);
            return;
        }
        var route = segments[1];
        var name = segments.Length > 2 ? Uri.UnescapeDataString(segments[2]) : null;
        switch (route, request.Method, name)
        {
            case ("version", "GET", null):
                Write(response, 200, Row(new JsonObject { ["version"] = "2.6.99-contract" }));
                return;
            case ("list", "GET", null or "local" or "remote"):
                lock (_gate)
                {
                    var rows = _backups.Where(b => name is null || (string?)b["location"] == name).Select(Row);
                    Write(response, 200, string.Concat(rows));
                }
                return;
            case ("status", "GET", null):
                lock (_gate)
                {
                    ActionRow? row;
                    if (request.Query.TryGetValue("operationid", out var id)) row = _actions.FirstOrDefault(a => a.OperationId == id);
                    else row = _actions.LastOrDefault();
                    Write(response, 200, row is null ? "" : Row(row.ToJson()));
                }
                return;
            case ("kill", "POST", null):
                Kill(request, response);
                return;
            case ("create", "POST", null):
                var backupName = request.Query.GetValueOrDefault("name") is { Length: > 0 } n ? n : DateTime.UtcNow.ToString("yyyy-MM-ddTHH-mm-ss", CultureInfo.InvariantCulture);
                StartOperation(response, "create", backupName, Command("create", request, backupName), 201, () => AddBackup(backupName, "local", size: 4096));
                return;
            case ("restore" or "upload" or "download", "POST", { Length: > 0 }):
                StartOperation(response, route, name, Command(route, request, name), 200, null);
                return;
            case ("create" or "restore" or "upload" or "download" or "kill" or "list" or "status" or "version", _, _) when IsKnownPath(route, name):
                Write(response, 405, ErrorRow(route, $"method {request.Method} is not allowed"), json: false);
                return;
            default:
                Write(response, 404, "404 page not found\n", json: false);
                return;
        }
    }

    private static bool IsKnownPath(string route, string? name) => route switch
    {
        "restore" or "upload" or "download" => name is not null,
        "list" => name is null or "local" or "remote",
        _ => name is null,
    };

    /// <summary>The action row's command as the server spells it (pkg/server: the verb, the flags it took as CLI flags,
    /// the name last), e.g. <c>restore --tables="db.t" --drop N</c>. <c>/backup/kill?command=</c> must match it whole.</summary>
    private static string Command(string verb, Request request, string name)
    {
        var command = new StringBuilder(verb);
        if (request.Query.TryGetValue("table", out var tables)) command.Append(CultureInfo.InvariantCulture, $" --tables=\"{tables}\"");
        if (request.Query.TryGetValue("diff-from", out var diffFrom)) command.Append(CultureInfo.InvariantCulture, $" --diff-from=\"{diffFrom}\"");
        if (request.Query.TryGetValue("partitions", out var partitions)) command.Append(CultureInfo.InvariantCulture, $" --partitions=\"{partitions}\"");
        foreach (var flag in new[] { "schema", "data", "drop", "rm", "rbac", "configs" })
        {
            if (request.Query.ContainsKey(flag)) command.Append(" --").Append(flag);
        }
        return command.Append(' ').Append(name).ToString();
    }

    private void StartOperation(HttpListenerResponse response, string operation, string name, string command, int status, Action? onSuccess)
    {
        ActionRow row;
        CancellationTokenSource cancel;
        lock (_gate)
        {
            if (_current is not null)
            {
                Write(response, 423, ErrorRow(operation, "another operation is currently running"), json: false);
                return;
            }
            row = new ActionRow(command, Guid.NewGuid().ToString(), Now());
            _actions.Add(row);
            cancel = new CancellationTokenSource();
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _current = (row, cancel, done);
            _running.Add(Task.Run(() => RunAsync(row, cancel, done, name, operation, onSuccess)));
        }
        Write(response, status, Row(new JsonObject
        {
            ["status"] = "acknowledged",
            ["operation"] = operation,
            ["backup_name"] = name,
            ["operation_id"] = row.OperationId,
        }));
    }

    private async Task RunAsync(ActionRow row, CancellationTokenSource cancel, TaskCompletionSource done, string name, string operation, Action? onSuccess)
    {
        string status;
        string? error;
        try
        {
            await Task.Delay(OperationDuration, cancel.Token);
            error = Outcome(row.Command);
            if (error is null && operation == "restore" && !HasBackup(name)) error = $"'{name}' is not found on local storage";
            status = error is null ? "success" : "error";
        }
        catch (OperationCanceledException)
        {
            (status, error) = ("cancel", "canceled from API /backup/kill");
        }
        lock (_gate)
        {
            // A kill already ended the row ("cancel"); pkg/status Stop leaves a terminal row as it is. A server going away
            // (disposed) ends nothing: like a process that dies, its rows stay as a late poll may still read them.
            if (row.Status == "in progress" && Volatile.Read(ref _disposed) == 0)
            {
                row.Finish(status, error, Now());
                if (status == "success") onSuccess?.Invoke();
            }
            if (_current?.Row == row) _current = null;
        }
        done.SetResult();
        cancel.Dispose();
    }

    private bool HasBackup(string name)
    {
        lock (_gate) return _backups.Any(b => (string?)b["name"] == name);
    }

    private void Kill(Request request, HttpListenerResponse response)
    {
        var command = request.Query.GetValueOrDefault("command") ?? "";
        _kills.Enqueue(command);
        (ActionRow Row, CancellationTokenSource Cancel, TaskCompletionSource Done) current;
        lock (_gate)
        {
            // pkg/status Cancel: an empty log, or no in-progress row (with the command: no row of exactly that command),
            // is an error row with 500; otherwise the row turns "cancel" and the answer names the command.
            if (_actions.Count == 0)
            {
                Write(response, 500, ErrorRow("kill", "empty command list"), json: false);
                return;
            }
            if (_current is not { } running || (command.Length > 0 && running.Row.Command != command))
            {
                Write(response, 500, ErrorRow("kill", $"command `{command}` not found"), json: false);
                return;
            }
            current = running;
            current.Row.Finish("cancel", "canceled from API /backup/kill", Now());
            current.Cancel.Cancel();
            _current = null;
        }
        // Like pkg/status Cancel: the row is "cancel" at once, the answer waits for the command to have returned.
        current.Done.Task.Wait(TimeSpan.FromSeconds(10));
        Write(response, 200, Row(new JsonObject { ["status"] = "success", ["operation"] = "kill", ["command"] = current.Row.Command }));
    }

    private static bool Authorized(HttpListenerRequest request, Dictionary<string, string> query)
    {
        string? user = null, pass = null;
        var header = request.Headers["Authorization"];
        if (header is not null && header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0) (user, pass) = (decoded[..colon], decoded[(colon + 1)..]);
        }
        if (query.TryGetValue("user", out var u)) user = u;
        if (query.TryGetValue("pass", out var p)) pass = p;
        return user == User && pass == Password;
    }

    /// <summary>Keys with their (unescaped) values; a key without '=' maps to "" and still counts as present.</summary>
    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>();
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            // Like Go's url.Values.Get: the first value wins.
            result.TryAdd(key, eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]));
        }
        return result;
    }

    private static string Now() => DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Row(JsonObject row) => row.ToJsonString() + "\n";

    private static string ErrorRow(string operation, string error) =>
        Row(new JsonObject { ["status"] = "error", ["operation"] = operation, ["error"] = error });

    private static void Write(HttpListenerResponse response, int status, string body, bool json = true)
    {
        try
        {
            response.StatusCode = status;
            // The contract: error answers may not say JSON, so the client must not rely on the header.
            response.ContentType = json ? "application/json; charset=UTF-8" : "text/plain; charset=utf-8";
            var bytes = Encoding.UTF8.GetBytes(body);
            response.ContentLength64 = bytes.Length;
            response.OutputStream.Write(bytes);
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away.
        }
    }

    /// <summary>Stops serving (a test may do so mid-operation to play a server that went away); a second call does
    /// nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Stop answering first: a poll racing the shutdown must see a server that is gone, not its operation cancelled.
        _listener.Stop();
        _listener.Close();
        lock (_gate) _current?.Cancel.Cancel();
        await _loop;
        Task[] running;
        lock (_gate) running = [.. _running];
        await Task.WhenAll(running);
    }

    public sealed record Request(string Method, string Path, string RawQuery, IReadOnlyDictionary<string, string> Query);

    /// <summary>One row of the server's action log (pkg/status): error, finish and operation_id only once set.</summary>
    public sealed class ActionRow(string command, string operationId, string start)
    {
        public string Command { get; } = command;
        public string OperationId { get; } = operationId;
        public string Status { get; private set; } = "in progress";
        public string? Error { get; private set; }
        private string? _finish;

        public void Finish(string status, string? error, string at) => (Status, Error, _finish) = (status, error, at);

        public JsonObject ToJson()
        {
            var row = new JsonObject { ["command"] = Command, ["status"] = Status, ["start"] = start };
            if (_finish is not null) row["finish"] = _finish;
            if (Error is not null) row["error"] = Error;
            row["operation_id"] = OperationId;
            return row;
        }
    }
}

using System.Diagnostics;

namespace Ingest.LocalStack.Processes;

/// <summary>The real Ingest.Worker as its own process (configured through environment variables, as an
/// operator's container would be), for the demo and end-to-end tests.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private WorkerProcess(Process process, int port, string logFile, Uri? adminApi)
    {
        _process = process;
        Port = port;
        LogFile = logFile;
        AdminApi = adminApi;
    }

    /// <summary>The port of <c>Urls</c>: health and metrics.</summary>
    public int Port { get; }

    public string LogFile { get; }

    /// <summary>Health and metrics (<c>Urls</c>, no token). Despite the name, not the admin API: that listens on
    /// Ingest:Admin:Url, see <see cref="AdminApi"/>.</summary>
    public Uri AdminEndpoint => new($"http://127.0.0.1:{Port}/");

    /// <summary>The admin API (status, pause, flush, backup points) as given in Ingest:Admin:Url, or null when the
    /// settings leave it to the worker's default. It only listens when a token is configured too.</summary>
    public Uri? AdminApi { get; }

    /// <summary>The worker's own pid (the wrappers it starts under exec into it): for reading its CPU and memory from /proc.</summary>
    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the worker. <paramref name="settings"/> are configuration keys such as
    /// "Ingest:Region" = "a" (passed as Ingest__Region environment variables).</summary>
    public static async Task<WorkerProcess> StartAsync(IReadOnlyDictionary<string, string> settings, string logFile, CancellationToken ct = default)
    {
        var dll = RepoPaths.WorkerDll;
        if (!File.Exists(dll))
            throw new InvalidOperationException($"worker not built: {dll} is missing (dotnet build -c {RepoPaths.Configuration})");
        var adminApi = settings.TryGetValue("Ingest:Admin:Url", out var admin) ? new Uri(admin.TrimEnd('/') + "/") : null;
        var port = FreePorts.Next();
        var env = settings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);
        env["Urls"] = $"http://127.0.0.1:{port}";
        env["DOTNET_gcServer"] = "0";
        // Runs in the log's directory (under the stack's), so a leak check can find it by working directory;
        // appsettings.json still comes from beside the dll.
        env["ASPNETCORE_CONTENTROOT"] = Path.GetDirectoryName(dll)!;
        var process = ChildProcesses.Start("dotnet", [dll], logFile, environment: env);
        var worker = new WorkerProcess(process, port, logFile, adminApi);
        try
        {
            await Wait.UntilAsync($"worker on :{port}", process, logFile, TimeSpan.FromSeconds(30),
                async () => (await Http.GetAsync(new Uri(worker.AdminEndpoint, "health/live"), ct).ConfigureAwait(false)).IsSuccessStatusCode, ct).ConfigureAwait(false);
        }
        catch
        {
            // Nobody holds the worker yet to dispose it: one that never became live must not outlive the caller.
            worker.Kill();
            throw;
        }
        return worker;
    }

    public async Task<string> MetricsAsync(CancellationToken ct = default) =>
        await Http.GetStringAsync(new Uri(AdminEndpoint, "metrics"), ct).ConfigureAwait(false);

    /// <summary>SIGTERM, then waits for the graceful stop (final flush, offsets committed, group left).</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited) ChildProcesses.Terminate(_process);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ChildProcesses.Kill(_process);
            throw new TimeoutException($"worker did not stop within {timeout.TotalSeconds:0} s; killed. Log {LogFile}:\n{Wait.Tail(LogFile)}");
        }
        return _process.ExitCode;
    }

    public void Kill() => ChildProcesses.Kill(_process);

    /// <summary>SIGSTOP: the worker stands still mid-whatever (a long GC pause, a frozen VM) with its connections open.</summary>
    public void Freeze() => ChildProcesses.Freeze(_process);

    public void Thaw() => ChildProcesses.Thaw(_process);

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }
}

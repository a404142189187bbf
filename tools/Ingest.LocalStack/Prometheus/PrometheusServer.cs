using System.Diagnostics;
using System.Text.Json;
using Ingest.LocalStack.Processes;

namespace Ingest.LocalStack.Prometheus;

/// <summary>A real Prometheus 2.42 (Debian package) scraping the given targets every second, with a private config and
/// storage under <see cref="Directory"/>, on a free loopback port; killed on dispose (and, like every child here, when
/// this process dies: <see cref="ChildProcesses"/>).</summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private const string Binary = "/usr/bin/prometheus";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Process _process;

    private PrometheusServer(Process process, string directory, int port)
    {
        _process = process;
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public Uri Endpoint => new($"http://127.0.0.1:{Port}/");

    public string LogFile => Path.Combine(Directory, "prometheus.log");

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> ("127.0.0.1:port", path /metrics) as job "ingest";
    /// returns once it answers /-/ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string directory, IEnumerable<string> targets, CancellationToken ct = default)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"Prometheus is not installed ({Binary} missing): run scripts/bootstrap.sh");
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "data"));
        var port = FreePorts.Next();
        var config = Path.Combine(directory, "prometheus.yml");
        // scrape_timeout defaults to 10 s, which Prometheus refuses above a 1 s interval.
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: ingest
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """);
        var process = ChildProcesses.Start(Binary,
            [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}", $"--web.listen-address=127.0.0.1:{port}"],
            Path.Combine(directory, "prometheus.log"), directory);
        var server = new PrometheusServer(process, directory, port);
        try
        {
            await Wait.UntilAsync($"Prometheus on :{port}", process, server.LogFile, TimeSpan.FromSeconds(30),
                async () => (await Http.GetAsync(new Uri(server.Endpoint, "-/ready"), ct).ConfigureAwait(false)).IsSuccessStatusCode, ct).ConfigureAwait(false);
        }
        catch
        {
            ChildProcesses.Kill(process);
            throw;
        }
        return server;
    }

    /// <summary>An instant query (GET /api/v1/query); returns data.result, the series with their labels ("metric") and
    /// "value": [time, "text"].</summary>
    public async Task<JsonElement> QueryAsync(string promql, CancellationToken ct = default)
    {
        var uri = new Uri(Endpoint, $"api/v1/query?query={Uri.EscapeDataString(promql)}");
        using var document = JsonDocument.Parse(await Http.GetStringAsync(uri, ct).ConfigureAwait(false));
        if (document.RootElement.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"Prometheus query {promql} failed: {document.RootElement}");
        return document.RootElement.GetProperty("data").GetProperty("result").Clone();
    }

    /// <summary>The value of a query answering one series (e.g. <c>sum(...)</c>), or null while it answers none.</summary>
    public async Task<double?> ValueAsync(string promql, CancellationToken ct = default)
    {
        var result = await QueryAsync(promql, ct).ConfigureAwait(false);
        if (result.GetArrayLength() == 0) return null;
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    public ValueTask DisposeAsync()
    {
        ChildProcesses.Kill(_process);
        return ValueTask.CompletedTask;
    }
}

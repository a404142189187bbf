using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;

namespace Ingest.LocalStack;

/// <summary>What the demo stories share: the operator's config file, the real CLI run as a process, polling that fails
/// early when a worker died, the steady load and the live progress line.</summary>
internal static class DemoSupport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Runs a story; one that could not even start (a service missing or failing) exits 1 with the message
    /// naming which, and its log.</summary>
    internal static async Task<int> RunStory(Func<CancellationToken, Task<int>> story, CancellationToken ct)
    {
        try
        {
            return await story(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"demo: FAILED — {e.Message}");
            return 1;
        }
    }

    /// <summary>The worker's settings as the JSON file an operator keeps (section "Ingest"), for <c>ingest restore --config</c>.</summary>
    internal static string ConfigJson(IReadOnlyDictionary<string, string> settings)
    {
        var root = new JsonObject();
        foreach (var (key, value) in settings.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var path = key.Split(':');
            var node = root;
            foreach (var name in path[..^1]) node = (node[name] ??= new JsonObject()).AsObject();
            node[path[^1]] = value is "true" or "false" ? JsonValue.Create(value == "true") : JsonValue.Create(value);
        }
        return WithArrays(root)!.ToJsonString(Indented) + "\n";

        // Keys 0..n-1 (Topics:0, Endpoints:0) are a list in configuration: written as a JSON array, as an operator would.
        static JsonNode? WithArrays(JsonNode? node)
        {
            if (node is not JsonObject o) return node?.DeepClone();
            var indexes = o.Select(kv => int.TryParse(kv.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1).ToList();
            if (indexes.Count > 0 && indexes.Order().SequenceEqual(Enumerable.Range(0, indexes.Count)))
                return new JsonArray([.. o.OrderBy(kv => int.Parse(kv.Key, CultureInfo.InvariantCulture)).Select(kv => WithArrays(kv.Value))]);
            var copy = new JsonObject();
            foreach (var (k, v) in o) copy[k] = WithArrays(v);
            return copy;
        }
    }

    /// <summary>Runs the real <c>ingest</c> CLI as an operator would, its command line shown; the output is kept in the
    /// stack's directory too.</summary>
    internal static async Task<(int Code, string Output)> RunCliAsync(Progress progress, string directory, string name, string[] args,
        CancellationToken ct)
    {
        // Shown as typed from the repository's root; run from the stack's directory, like every process the demo
        // starts, so that a leak check finds it there.
        var dll = Path.Combine("src", "Ingest.Cli", "bin", RepoPaths.Configuration, "net10.0", "ingest.dll");
        var path = Path.Combine(RepoPaths.Root, dll);
        if (!File.Exists(path))
            throw new InvalidOperationException($"the ingest CLI is not built: {path} is missing (dotnet build -c {RepoPaths.Configuration})");
        progress.Say($"  $ dotnet {dll} {string.Join(' ', args)}");
        var log = Path.Combine(directory, $"ingest-{name}.log");
        var process = ChildProcesses.Start("dotnet", [path, .. args], log);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(120));
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"ingest {string.Join(' ', args.Take(2))} did not finish within 120 s; its output:\n{Wait.Tail(log)}");
            }
            return (process.ExitCode, await File.ReadAllTextAsync(log, ct));
        }
        finally
        {
            ChildProcesses.Kill(process);
        }
    }

    internal static async Task<string> StopAsync(WorkerProcess worker)
    {
        try
        {
            return (await worker.StopAsync(TimeSpan.FromSeconds(30))).ToString(CultureInfo.InvariantCulture);
        }
        catch (TimeoutException)
        {
            return "killed after 30 s";
        }
    }

    internal static int Failed(Progress progress, string why, params WorkerProcess?[] workers)
    {
        progress.Stop();
        Console.Error.WriteLine($"demo: FAILED — {why}");
        foreach (var w in workers.OfType<WorkerProcess>())
            Console.Error.WriteLine($"worker log {w.LogFile}:\n{Wait.Tail(w.LogFile)}");
        return 1;
    }

    internal static Task UntilAsync(string what, TimeSpan timeout, SteadyLoad? load, WorkerProcess[] workers, Func<Task<bool>> done,
        CancellationToken ct) => UntilAsync(() => what, timeout, load, workers, done, ct);

    /// <summary>Polls <paramref name="done"/>; fails early, naming why, when the producer or a worker died.</summary>
    internal static async Task UntilAsync(Func<string> what, TimeSpan timeout, SteadyLoad? load, WorkerProcess[] workers, Func<Task<bool>> done,
        CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (!await done())
        {
            if (load is not null) await load.ThrowIfFailedAsync();
            if (workers.FirstOrDefault(w => w.HasExited) is { } dead)
                throw new InvalidOperationException($"a worker exited with code {dead.ExitCode} while waiting for {what()}; its log {dead.LogFile}");
            if (sw.Elapsed > timeout) throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what()}");
            await Task.Delay(200, ct);
        }
    }

    /// <summary>The CLI's <c>--json</c> document; null when the output holds none (it then says what went wrong).</summary>
    internal static JsonElement? ParseJson(string output)
    {
        var (start, end) = (output.IndexOf('{', StringComparison.Ordinal), output.LastIndexOf('}'));
        if (start < 0 || end < start) return null;
        try
        {
            using var document = JsonDocument.Parse(output.AsMemory(start, end - start + 1));
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>What the CLI said besides its JSON document (its error lines go to stderr), or all of it.</summary>
    internal static string Problem(string output)
    {
        var (start, end) = (output.IndexOf('{', StringComparison.Ordinal), output.LastIndexOf('}'));
        var rest = start >= 0 && end > start ? (output[..start] + output[(end + 1)..]).Trim() : "";
        return rest.Length > 0 ? rest : output.Trim();
    }

    /// <summary>Sample events at a steady pace (seq 0, 1, 2, ...) until stopped: the load that keeps arriving while
    /// region a is backed up, dropped and restored.</summary>
    internal sealed class SteadyLoad : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _producing;
        private long _produced;

        public SteadyLoad(string bootstrap, string topic, int perSecond, long max)
        {
            _producing = Task.Run(async () =>
            {
                var clock = Stopwatch.StartNew();
                while (!_stop.IsCancellationRequested && Produced < max)
                {
                    var due = Math.Min((long)(clock.Elapsed.TotalSeconds * perSecond), max) - Produced;
                    if (due > 0) Interlocked.Add(ref _produced, SampleEvents.Produce(bootstrap, topic, Produced, due));
                    try
                    {
                        await Task.Delay(200, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        // stopped
                    }
                }
            });
        }

        public long Produced => Interlocked.Read(ref _produced);

        /// <summary>A produce error ends the demo: the counts could no longer be checked.</summary>
        public async Task ThrowIfFailedAsync()
        {
            if (_producing.IsFaulted) await _producing;
        }

        /// <summary>Stops producing; how many messages the brokers acknowledged in all.</summary>
        public async Task<long> StopAsync()
        {
            await _stop.CancelAsync();
            await _producing;
            return Produced;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _producing;
            }
            catch (Exception)
            {
                // already reported, or the demo failed for another reason
            }
            _stop.Dispose();
        }
    }

    /// <summary>The demo's output: lines that stay, and a live progress line (phase, produced, rows in each region)
    /// redrawn in place on a terminal and printed every 2 s when redirected.</summary>
    internal sealed class Progress(Stopwatch clock)
    {
        private readonly Lock _lock = new();
        private readonly bool _interactive = !Console.IsOutputRedirected;
        private int _shown;
        private CancellationTokenSource? _stop;

        public string Phase { get; set; } = "starting";

        public void Say(string line)
        {
            lock (_lock)
            {
                Clear();
                Console.WriteLine(line);
            }
        }

        /// <summary>Starts redrawing the progress line; disposing the result stops it.</summary>
        public IAsyncDisposable Start(Func<CancellationToken, Task<long>> a, Func<CancellationToken, Task<long>> b, SteadyLoad load)
        {
            _stop = new CancellationTokenSource();
            var stop = _stop.Token;
            var task = Task.Run(async () =>
            {
                TimeSpan? last = null;
                while (!stop.IsCancellationRequested)
                {
                    var (inA, inB) = (await RowsAsync(a, stop), await RowsAsync(b, stop));
                    // Under 80 columns: a longer line wraps in a narrow terminal and \r no longer redraws it.
                    var line = $"{Phase,-14} produced {load.Produced,7:N0}   rows: a {inA,9}  b {inB,9}   {clock.Elapsed.TotalSeconds,5:0.0} s";
                    lock (_lock)
                    {
                        if (stop.IsCancellationRequested) break;
                        if (_interactive)
                        {
                            Console.Write("\r" + line.PadRight(_shown));
                            _shown = line.Length;
                        }
                        else if (last is null || clock.Elapsed - last >= TimeSpan.FromSeconds(2))
                        {
                            Console.WriteLine(line);
                            last = clock.Elapsed;
                        }
                    }
                    try
                    {
                        await Task.Delay(250, stop);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            });
            return new Stopper(this, task);
        }

        public void Stop()
        {
            lock (_lock)
            {
                _stop?.Cancel();
                Clear();
            }
        }

        private void Clear()
        {
            if (_shown == 0) return;
            Console.Write("\r" + new string(' ', _shown) + "\r");
            _shown = 0;
        }

        /// <summary>A region's row count, or why there is none (dropped, server not answering).</summary>
        private static async Task<string> RowsAsync(Func<CancellationToken, Task<long>> count, CancellationToken ct)
        {
            try
            {
                return (await count(ct)).ToString("N0", CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return e.Message.Contains("doesn't exist", StringComparison.Ordinal) ? "(dropped)" : "?";
            }
            catch (OperationCanceledException)
            {
                return "";
            }
        }

        private sealed class Stopper(Progress progress, Task task) : IAsyncDisposable
        {
            public async ValueTask DisposeAsync()
            {
                progress.Stop();
                await task;
            }
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;

namespace Ingest.LocalStack;

/// <summary>The README's demo, a disaster-recovery story: regions a and b dual-ingest one topic under steady load;
/// an operator takes a backup point in region a with the real <c>ingest</c> CLI; region a's table is dropped; the
/// operator restores it with <c>ingest restore</c> and restarts the worker, which replays from the point. Exit 1 unless
/// region a ends up equal to the never-failed region b row for row, with every produced message exactly once in each.</summary>
internal static class DrDemo
{
    private const string Topic = "events";
    private const string Table = "demo.events";
    private const string Point = "before-drop";
    private const int Partitions = 8;

    // The mock cluster keeps only the newest 5 MiB per partition (~130 bytes a message): a replay from the point needs
    // every message since. At this pace a run produces ~2 MiB per partition; the cap (~4 MB) holds even if it drags on.
    private const int MessagesPerSecond = 4_000;
    private const long MaxMessages = Partitions * 4_000_000L / 130;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string Digest =>
        $"SELECT count(), uniqExact(_partition, _offset), sum(cityHash64(_partition, _offset, seq, user_id, event, value)), uniqExact(seq) FROM {Table} FORMAT TSV";

    public static async Task<int> RunAsync(CancellationToken ct)
    {
        try
        {
            return await RunStoryAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The stack did not start (a service missing or failing): its message names which, with its log.
            Console.Error.WriteLine($"demo: FAILED — {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunStoryAsync(CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var progress = new Progress(total);
        progress.Say("demo: starting mock Kafka (3 brokers) and two regions, each its own ZooKeeper and ClickHouse 18.16 (a1, b1) ...");
        await using var stack = await Stack.StartAsync(Topology.Independent, new StackOptions(), ct);
        var (a1, b1) = (stack.Node("a1"), stack.Node("b1"));
        stack.Kafka?.CreateTopic(Topic, Partitions);
        await Task.WhenAll(CreateTableAsync(a1, ct), CreateTableAsync(b1, ct));
        progress.Say($"demo: Kafka {stack.KafkaBootstrap}, topic {Topic} ({Partitions} partitions); table {Table} on a1 {a1.HttpEndpoint} and b1 {b1.HttpEndpoint}");

        // The operator's secret, as a mounted file: the workers read it at start, the CLI with --token-file.
        var tokenFile = Path.Combine(stack.Directory, "admin-token");
        await File.WriteAllTextAsync(tokenFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), ct);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var settingsA = WorkerSettings(stack, a1, "a", tokenFile);
        // Region a's worker coordinates the backup point, so it runs the backend: FREEZE on a1, whose data directory
        // is on this machine (a sidecar next to the server, in production).
        settingsA["Ingest:Backup:Backend"] = "freeze";
        settingsA["Ingest:Backup:Freeze:DataPath"] = Path.Combine(a1.Directory, "data");
        var settingsB = WorkerSettings(stack, b1, "b", tokenFile);
        var configA = Path.Combine(stack.Directory, "worker-a.json");
        await File.WriteAllTextAsync(configA, ConfigJson(settingsA), ct);

        WorkerProcess? workerA = null;
        WorkerProcess? workerB = null;
        SteadyLoad? load = null;
        var exits = new List<string>();
        try
        {
            var started = await Task.WhenAll(
                WorkerProcess.StartAsync(settingsA, Path.Combine(stack.Directory, "worker-a.log"), ct),
                WorkerProcess.StartAsync(settingsB, Path.Combine(stack.Directory, "worker-b.log"), ct));
            (workerA, workerB) = (started[0], started[1]);
            progress.Say($"demo: region a worker (admin API {workerA.AdminApi}) → a1, region b worker (admin API {workerB.AdminApi}) → b1; group demo (demo.a, demo.b)");

            load = new SteadyLoad(stack.KafkaBootstrap, Topic, MessagesPerSecond, MaxMessages);
            progress.Phase = "dual ingest";
            progress.Say($"demo: producing sample events at {MessagesPerSecond:N0}/s; both regions ingest them");
            await using var ticker = progress.Start(a1, b1, load);

            // Both regions must be ingesting (every partition assigned, batches landing) before the point is taken.
            await UntilAsync("both regions ingesting", TimeSpan.FromSeconds(60), load, [workerA, workerB], async () =>
                await CountAsync(a1, ct) >= 15_000 && await CountAsync(b1, ct) >= 15_000, ct);

            progress.Phase = "backup point";
            progress.Say("demo: an operator takes a backup point of region a (its workers pause, flush and checkpoint; FREEZE on a1; ingest resumes):");
            var create = await RunCliAsync(progress, stack.Directory, "backup-point",
                ["backup-point", "create", "--name", Point, "--worker", workerA.AdminApi!.ToString().TrimEnd('/'), "--token-file", tokenFile, "--json"], ct);
            if (create.Code != 0 || ParseJson(create.Output) is not { } created)
                return Failed(progress, $"ingest backup-point create exited with {create.Code}: {Problem(create.Output)}", workerA, workerB);
            var pauseMs = ShowBackupPoint(progress, created);

            progress.Phase = "past the point";
            await Task.Delay(TimeSpan.FromSeconds(4), ct);
            var beforeDrop = await CountAsync(a1, ct);
            progress.Phase = "DISASTER";
            progress.Say($"demo: DISASTER: DROP TABLE {Table} on a1 ({beforeDrop:N0} rows); region b keeps ingesting");
            await a1.Client.ExecuteAsync($"DROP TABLE {Table}", ct: ct);
            progress.Say("demo: the operator stops region a's worker (SIGTERM)");
            exits.Add($"a (table dropped under it) {await StopAsync(workerA)}");

            progress.Phase = "restore";
            var restoreClock = Stopwatch.StartNew();
            progress.Say("demo: the operator restores region a from the backup point (its table from the FREEZE backup, then its group and " +
                "checkpoints rewound to the point), with region a's worker configuration:");
            // --restore-data: the point's tables come back through the configured backend (Ingest:Backup, FREEZE on a1)
            // before the replay is planned against them.
            var restore = await RunCliAsync(progress, stack.Directory, "restore",
                ["restore", "--config", configA, "--backup-point", Point, "--restore-data", "--json"], ct);
            if (restore.Code != 0 || ParseJson(restore.Output) is not { } restoreReport)
                return Failed(progress, $"ingest restore exited with {restore.Code}: {Problem(restore.Output)}", workerA, workerB);
            ShowRestore(progress, restoreReport);
            var restored = await CountAsync(a1, ct);

            progress.Phase = "replay";
            await workerA.DisposeAsync();
            progress.Say($"demo: the operator starts region a's worker again: it replays from the point ({restored:N0} rows restored) while the load goes on");
            workerA = await WorkerProcess.StartAsync(settingsA, Path.Combine(stack.Directory, "worker-a-restarted.log"), ct);
            var produced = await load.StopAsync();
            progress.Phase = "catching up";
            progress.Say($"demo: producer stopped at {produced:N0} messages; waiting for both regions to hold every one");

            TimeSpan? caughtUp = null;
            var (inA, inB) = (0L, 0L);
            await UntilAsync(() => $"both regions to hold all {produced:N0} messages (a has {inA:N0}, b {inB:N0})", TimeSpan.FromSeconds(60), null,
                [workerA, workerB], async () =>
                {
                    (inA, inB) = (await CountAsync(a1, ct), await CountAsync(b1, ct));
                    if (inA >= produced) caughtUp ??= restoreClock.Elapsed;
                    return inA >= produced && inB >= produced;
                }, ct);
            progress.Phase = "checking";
            // Held past a batch age: a duplicate still on its way would land now.
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
            var (da, db) = (await DigestAsync(a1, ct), await DigestAsync(b1, ct));
            await ticker.DisposeAsync();

            var exitA = await StopAsync(workerA);
            var exitB = await StopAsync(workerB);
            exits.Add($"a (restarted) {exitA}");
            exits.Add($"b {exitB}");
            var equal = da.Count == db.Count && da.Pairs == db.Pairs && da.Hash == db.Hash;

            Console.WriteLine();
            Console.WriteLine("demo summary");
            Console.WriteLine($"  messages produced           {produced,12:N0}");
            Console.WriteLine($"  region a rows               {da.Count,12:N0}   lost {produced - da.Messages:N0}, duplicated {da.Count - da.Messages:N0}");
            Console.WriteLine($"  region b rows               {db.Count,12:N0}   lost {produced - db.Messages:N0}, duplicated {db.Count - db.Messages:N0}");
            Console.WriteLine($"  region a = region b         {(equal ? "yes" : "NO"),12}   count, uniqExact(_partition, _offset), sum(cityHash64(every column))");
            Console.WriteLine($"  backup point pause          {$"{pauseMs:N0} ms",12}");
            Console.WriteLine($"  rows at the point           {restored,12:N0}   (a held {beforeDrop:N0} when its table was dropped)");
            Console.WriteLine($"  restore → a caught up       {(caughtUp is { } c ? $"{c.TotalSeconds:0.0} s" : "?"),12}   (from `ingest restore` to every message in a1)");
            Console.WriteLine($"  worker exit codes           {string.Join(", ", exits)}");
            Console.WriteLine($"  total demo time             {total.Elapsed.TotalSeconds,10:0.0} s");
            var ok = equal && da.Count == produced && da.Messages == produced && db.Count == produced && db.Messages == produced && exitA == "0" && exitB == "0";
            Console.WriteLine(ok
                ? "demo: OK — region a, dropped and restored from its backup point, equals region b row for row; every produced message is exactly one row in each"
                : $"demo: FAILED — produced {produced:N0}; region a {da}; region b {db}; exits {string.Join(", ", exits)}\nregion a worker log:\n{Wait.Tail(workerA.LogFile)}\nregion b worker log:\n{Wait.Tail(workerB.LogFile)}");
            return ok ? 0 : 1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Failed(progress, e.Message, workerA, workerB);
        }
        finally
        {
            progress.Stop();
            if (load is not null) await load.DisposeAsync();
            if (workerA is not null) await workerA.DisposeAsync();
            if (workerB is not null) await workerB.DisposeAsync();
        }
    }

    private static Dictionary<string, string> WorkerSettings(Stack stack, ClickHouseServer node, string region, string tokenFile) => new()
    {
        ["Ingest:Region"] = region,
        ["Ingest:Kafka:BootstrapServers"] = stack.KafkaBootstrap,
        ["Ingest:Kafka:Group"] = "demo",
        ["Ingest:Kafka:Topics:0"] = Topic,
        ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
        ["Ingest:ClickHouse:Endpoints:0"] = node.HttpEndpoint.ToString(),
        ["Ingest:ClickHouse:Table"] = Table,
        ["Ingest:Batching:MaxAge"] = "00:00:00.500",
        // Its own port: the default (8081) would be taken by whichever worker starts first.
        ["Ingest:Admin:Url"] = $"http://127.0.0.1:{FreePorts.Next()}",
        ["Ingest:Admin:TokenFile"] = tokenFile,
    };

    private static async Task CreateTableAsync(ClickHouseServer node, CancellationToken ct)
    {
        await node.Client.ExecuteAsync("CREATE DATABASE IF NOT EXISTS demo", ct: ct);
        await node.Client.ExecuteAsync(
            $"CREATE TABLE {Table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{Table}', '{{replica}}') ORDER BY (event, ts) " +
            "SETTINGS replicated_deduplication_window = 1000", ct: ct);
    }

    /// <summary>The worker's settings as the JSON file an operator keeps (section "Ingest"), for <c>ingest restore --config</c>.</summary>
    private static string ConfigJson(IReadOnlyDictionary<string, string> settings)
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
    private static async Task<(int Code, string Output)> RunCliAsync(Progress progress, string directory, string name, string[] args,
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

    private static async Task<string> StopAsync(WorkerProcess worker)
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

    private static int Failed(Progress progress, string why, params WorkerProcess?[] workers)
    {
        progress.Stop();
        Console.Error.WriteLine($"demo: FAILED — {why}");
        foreach (var w in workers.OfType<WorkerProcess>())
            Console.Error.WriteLine($"worker log {w.LogFile}:\n{Wait.Tail(w.LogFile)}");
        return 1;
    }

    private static Task UntilAsync(string what, TimeSpan timeout, SteadyLoad? load, WorkerProcess[] workers, Func<Task<bool>> done,
        CancellationToken ct) => UntilAsync(() => what, timeout, load, workers, done, ct);

    /// <summary>Polls <paramref name="done"/>; fails early, naming why, when the producer or a worker died.</summary>
    private static async Task UntilAsync(Func<string> what, TimeSpan timeout, SteadyLoad? load, WorkerProcess[] workers, Func<Task<bool>> done,
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

    private static async Task<long> CountAsync(ClickHouseServer node, CancellationToken ct) =>
        long.Parse(await node.Client.ScalarAsync($"SELECT count() FROM {Table}", ct) ?? "0", CultureInfo.InvariantCulture);

    /// <summary>A region's table in four numbers: rows, distinct (partition, offset), a hash of every row, distinct messages (seq).</summary>
    private sealed record TableDigest(long Count, long Pairs, string Hash, long Messages)
    {
        public override string ToString() => $"{Count:N0} rows, {Pairs:N0} distinct offsets, {Messages:N0} distinct messages, hash {Hash}";
    }

    private static async Task<TableDigest> DigestAsync(ClickHouseServer node, CancellationToken ct)
    {
        var f = (await node.Client.QueryAsync(Digest, ct: ct)).Trim().Split('\t');
        return new TableDigest(long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture), f[2],
            long.Parse(f[3], CultureInfo.InvariantCulture));
    }

    /// <summary>The CLI's <c>--json</c> document; null when the output holds none (it then says what went wrong).</summary>
    private static JsonElement? ParseJson(string output)
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
    private static string Problem(string output)
    {
        var (start, end) = (output.IndexOf('{', StringComparison.Ordinal), output.LastIndexOf('}'));
        var rest = start >= 0 && end > start ? (output[..start] + output[(end + 1)..]).Trim() : "";
        return rest.Length > 0 ? rest : output.Trim();
    }

    // The CLI's tables are laid out for a terminal; written to a file they wrap at 80 columns. The demo asks for
    // --json and shows what matters of it in a few lines instead.

    /// <summary>Shows <c>backup-point create --json</c>; returns the pause in ms.</summary>
    private static long ShowBackupPoint(Progress progress, JsonElement report)
    {
        var p = report.GetProperty("workers")[0].GetProperty("answer");
        var pauseMs = p.GetProperty("pauseMs").GetInt64();
        progress.Say($"    → point {p.GetProperty("name")} of region {p.GetProperty("region")}, group {p.GetProperty("group")}: {p.GetProperty("status")}, " +
            $"backend {p.GetProperty("backend")} ({p.GetProperty("detail")}), ingest paused {pauseMs:N0} ms");
        var positions = p.GetProperty("positions").EnumerateArray()
            .Select(x => $"{x.GetProperty("topic")}[{x.GetProperty("partition")}]@{x.GetProperty("committed").GetInt64():N0}");
        progress.Say($"    → where region a's data ends at the point: {string.Join("  ", positions)}");
        return pauseMs;
    }

    /// <summary>Shows <c>restore --json</c>: what was done, and where each partition replays from.</summary>
    private static void ShowRestore(Progress progress, JsonElement report)
    {
        progress.Say($"    → {report.GetProperty("state")}: region {report.GetProperty("region")}, group {report.GetProperty("group")} reset " +
            $"({report.GetProperty("membershipCheck")} showed no active member), {report.GetProperty("checkpointsWritten")} checkpoint(s) rewritten");
        foreach (var r in report.GetProperty("partitions").EnumerateArray())
        {
            progress.Say($"    → {r.GetProperty("topic")}[{r.GetProperty("partition")}]  point {Number(r, "point")}  restored data ends {Number(r, "dataEnd")}  " +
                $"checkpoint {Number(r, "checkpoint")}  replay from {Number(r, "replayFrom")}");
        }

        static string Number(JsonElement row, string name) =>
            row.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64().ToString("N0", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>Sample events at a steady pace (seq 0, 1, 2, ...) until stopped: the load that keeps arriving while
    /// region a is backed up, dropped and restored.</summary>
    private sealed class SteadyLoad : IAsyncDisposable
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
    private sealed class Progress(Stopwatch clock)
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
        public IAsyncDisposable Start(ClickHouseServer a, ClickHouseServer b, SteadyLoad load)
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

        /// <summary>The table's row count, or why there is none (dropped, server not answering).</summary>
        private static async Task<string> RowsAsync(ClickHouseServer node, CancellationToken ct)
        {
            try
            {
                return (await CountAsync(node, ct)).ToString("N0", CultureInfo.InvariantCulture);
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

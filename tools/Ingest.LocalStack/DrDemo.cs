using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using static Ingest.LocalStack.DemoSupport;

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

    private static string Digest =>
        $"SELECT count(), uniqExact(_partition, _offset), sum(cityHash64(_partition, _offset, seq, user_id, event, value)), uniqExact(seq) FROM {Table} FORMAT TSV";

    public static Task<int> RunAsync(CancellationToken ct) => RunStory(RunStoryAsync, ct);

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
            await using var ticker = progress.Start(c => CountAsync(a1, c), c => CountAsync(b1, c), load);

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

}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using static Ingest.LocalStack.DemoSupport;

namespace Ingest.LocalStack;

/// <summary><c>demo --regions</c>: the two-subcluster story. Regions a and b write the partitions they own into their
/// own subcluster; region a is lost (its worker, both its ClickHouse nodes and its ZooKeeper killed at once); region b
/// keeps writing its own partitions, an operator takes region a's over with <c>ingest takeover</c>, region a comes
/// back and gets them back with <c>ingest failback</c>, and <c>ingest reconcile</c> checks that no offset is in both
/// subclusters. Exit 1 unless the Distributed table holds every produced message exactly once.</summary>
internal static class RegionsDemo
{
    private const string Topic = "events";
    private const string Table = "demo.events";
    private const string Distributed = "demo.events_all";
    private const int Partitions = 8;
    private const int MessagesPerSecond = 2_000;
    private const long MaxMessages = Partitions * 4_000_000L / 130;

    public static Task<int> RunAsync(CancellationToken ct) => RunStory(RunStoryAsync, ct);

    private static async Task<int> RunStoryAsync(CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var progress = new Progress(total);
        progress.Say("demo: starting mock Kafka, ZooKeeper a and b, and four ClickHouse 18.16 nodes: subcluster a = a1 + b1 (ZooKeeper a), " +
            "subcluster b = a2 + b2 (ZooKeeper b) ...");
        await using var stack = await Stack.StartAsync(Topology.TwoSubcluster, new StackOptions(), ct);
        var (a1, a2, b1, b2) = (stack.Node("a1"), stack.Node("a2"), stack.Node("b1"), stack.Node("b2"));
        stack.Kafka?.CreateTopic(Topic, Partitions);
        foreach (var node in stack.Nodes) await CreateTablesAsync(node, ct);
        progress.Say($"demo: topic {Topic} ({Partitions} partitions); {Table} in both subclusters, {Distributed} (Distributed) over both; " +
            "partitions 0,2,4,6 owned by region a, 1,3,5,7 by region b");

        var tokenFile = Path.Combine(stack.Directory, "admin-token");
        await File.WriteAllTextAsync(tokenFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), ct);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var settingsA = WorkerSettings(stack, "a", [a1, b1], [a2, b2], tokenFile);
        var settingsB = WorkerSettings(stack, "b", [b1, a1], [b2, a2], tokenFile);
        var configB = Path.Combine(stack.Directory, "worker-b.json");
        await File.WriteAllTextAsync(configB, ConfigJson(settingsB.Where(kv => !kv.Key.StartsWith("Ingest:Admin", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value)), ct);

        WorkerProcess? workerA = null;
        WorkerProcess? workerB = null;
        SteadyLoad? load = null;
        try
        {
            var started = await Task.WhenAll(
                WorkerProcess.StartAsync(settingsA, Path.Combine(stack.Directory, "worker-a.log"), ct),
                WorkerProcess.StartAsync(settingsB, Path.Combine(stack.Directory, "worker-b.log"), ct));
            (workerA, workerB) = (started[0], started[1]);
            var adminB = workerB.AdminApi!.ToString().TrimEnd('/');
            load = new SteadyLoad(stack.KafkaBootstrap, Topic, MessagesPerSecond, MaxMessages);
            progress.Phase = "dual ingest";
            progress.Say($"demo: producing sample events at {MessagesPerSecond:N0}/s; each region writes its partitions into its subcluster");
            await using var ticker = progress.Start(c => CountAsync(a1, Table, c), c => CountAsync(b2, Table, c), load);
            await UntilAsync("both regions writing", TimeSpan.FromSeconds(60), load, [workerA, workerB], async () =>
                await CountAsync(a1, Table, ct) >= 5_000 && await CountAsync(b2, Table, ct) >= 5_000, ct);

            progress.Phase = "REGION A LOST";
            progress.Say("demo: DISASTER: region a is lost — its worker, a1, a2 and ZooKeeper a killed at once");
            workerA.Kill();
            a1.Kill();
            a2.Kill();
            stack.Keepers["a"].Kill();
            var lost = Stopwatch.StartNew();
            var own = $"SELECT count() FROM {Table} WHERE _partition % 2 = 1";
            var ownAtLoss = await CountAsync(b2, own, ct);
            await UntilAsync("region b's own partitions to be written again", TimeSpan.FromSeconds(60), load, [workerB], async () =>
                await CountAsync(b2, own, ct) > ownAtLoss + 500, ct);
            var ownResumed = lost.Elapsed;
            progress.Say($"demo: region b's own partitions: 500 more rows in subcluster b {ownResumed.TotalSeconds:0.0} s after the loss (insert_quorum 2 → 0: a2 is gone)");

            progress.Phase = "takeover";
            progress.Say("demo: the operator decides region a will not be back soon and takes its partitions over from region b:");
            var takeover = await RunCliAsync(progress, stack.Directory, "takeover", ["takeover", "--from", "a", "--worker", adminB, "--token-file", tokenFile, "--json"], ct);
            if (takeover.Code != 0 || ParseJson(takeover.Output) is not { } claims)
                return Failed(progress, $"ingest takeover exited with {takeover.Code}: {Problem(takeover.Output)}", workerA, workerB);
            var claimed = Show(progress, claims, "takeover");
            var takenOver = Stopwatch.StartNew();
            var theirs = $"SELECT count() FROM {Table} WHERE _partition % 2 = 0";
            await UntilAsync("region a's partitions in subcluster b", TimeSpan.FromSeconds(60), load, [workerB], async () =>
                await CountAsync(b2, theirs, ct) > 1_000, ct);
            var takeoverWriting = takenOver.Elapsed;
            progress.Say($"demo: region a's partitions written into subcluster b {takeoverWriting.TotalSeconds:0.0} s after the takeover");
            await Task.Delay(TimeSpan.FromSeconds(3), ct);

            progress.Phase = "region a back";
            progress.Say("demo: region a comes back: ZooKeeper a first, then a1 and a2, then its worker, which follows (writes nothing it does not own)");
            await stack.Keepers["a"].RestartAsync(ct);
            await Task.WhenAll(a1.StartAsync(ct), a2.StartAsync(ct));
            await workerA.DisposeAsync();
            workerA = await WorkerProcess.StartAsync(settingsA, Path.Combine(stack.Directory, "worker-a-back.log"), ct);

            progress.Phase = "failback";
            progress.Say("demo: the operator hands region a's partitions back once its subcluster has caught up:");
            (int Code, string Output) failback = (-1, "");
            var back = Stopwatch.StartNew();
            for (var attempt = 1; back.Elapsed < TimeSpan.FromSeconds(60); attempt++)
            {
                failback = await RunCliAsync(progress, stack.Directory, $"failback-{attempt}", ["failback", "--to", "a", "--worker", adminB, "--token-file", tokenFile, "--json"], ct);
                if (failback.Code == 0 || !failback.Output.Contains("not fully back", StringComparison.Ordinal)) break;
                progress.Say("    → not yet: region a's subcluster is still catching up; again in 2 s");
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
            if (failback.Code != 0 || ParseJson(failback.Output) is not { } released)
                return Failed(progress, $"ingest failback exited with {failback.Code}: {Problem(failback.Output)}", workerA, workerB);
            Show(progress, released, "failback");
            var aRows = await CountAsync(a1, theirs, ct);
            await UntilAsync("region a writing its partitions again", TimeSpan.FromSeconds(60), load, [workerA, workerB], async () =>
                await CountAsync(a1, theirs, ct) > aRows + 500, ct);
            await Task.Delay(TimeSpan.FromSeconds(2), ct);

            var produced = await load.StopAsync();
            progress.Phase = "catching up";
            progress.Say($"demo: producer stopped at {produced:N0} messages; waiting for the Distributed table to hold every one");
            await UntilAsync("every message in the Distributed table", TimeSpan.FromSeconds(90), null, [workerA, workerB], async () =>
                await CountAsync(b1, $"SELECT uniqExact(_partition, _offset) FROM {Distributed}", ct) >= produced, ct);
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
            await ticker.DisposeAsync();

            progress.Phase = "reconcile";
            progress.Say("demo: the operator checks that no offset is in both subclusters (with quorum, none should be):");
            var reconcile = await RunCliAsync(progress, stack.Directory, "reconcile", ["reconcile", "--config", configB, "--apply", "--json"], ct);
            var reconciled = ParseJson(reconcile.Output);
            var duplicates = reconciled?.GetProperty("duplicateOffsets").GetInt64() ?? -1;
            progress.Say($"    → {duplicates} offset(s) found in both subclusters, {reconciled?.GetProperty("remaining").GetInt64()} left (exit {reconcile.Code})");

            var digest = await DigestAsync(b1, ct);
            var fromA = await DigestAsync(a1, ct);
            var exitA = await StopAsync(workerA);
            var exitB = await StopAsync(workerB);
            Console.WriteLine();
            Console.WriteLine("demo summary");
            Console.WriteLine($"  messages produced                 {produced,10:N0}");
            Console.WriteLine($"  Distributed table (read on b1)    {digest.Rows,10:N0}   lost {produced - digest.Messages:N0}, duplicated {digest.Rows - digest.Messages:N0}");
            Console.WriteLine($"  Distributed table (read on a1)    {fromA.Rows,10:N0}   lost {produced - fromA.Messages:N0}, duplicated {fromA.Rows - fromA.Messages:N0}");
            Console.WriteLine($"  region b's own partitions         {$"{ownResumed.TotalSeconds:0.0} s",10}   from region a's loss to 500 more of their rows in subcluster b (quorum degraded)");
            Console.WriteLine($"  region a's partitions, takeover   {$"{takeoverWriting.TotalSeconds:0.0} s",10}   from `ingest takeover` to rows in subcluster b ({claimed} partitions)");
            Console.WriteLine($"  reconcile                         {duplicates,10}   offsets in both subclusters");
            Console.WriteLine($"  worker exit codes                 a {exitA}, b {exitB}");
            Console.WriteLine($"  total demo time                   {total.Elapsed.TotalSeconds,8:0.0} s");
            var ok = digest.Rows == produced && digest.Messages == produced && fromA.Rows == produced && fromA.Messages == produced && reconcile.Code == 0
                && exitA == "0" && exitB == "0";
            Console.WriteLine(ok
                ? "demo: OK — through region a's loss, the takeover and the failback, every produced message is exactly one row in the Distributed table"
                : $"demo: FAILED — produced {produced:N0}; on b1 {digest}; on a1 {fromA}; reconcile exit {reconcile.Code}; exits a {exitA}, b {exitB}\n" +
                  $"region a worker log:\n{Wait.Tail(workerA.LogFile)}\nregion b worker log:\n{Wait.Tail(workerB.LogFile)}");
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

    /// <summary>A region's worker: the shared two-subcluster target, each subcluster's replicas with this region's first.</summary>
    private static Dictionary<string, string> WorkerSettings(Stack stack, string region, ClickHouseServer[] subclusterA, ClickHouseServer[] subclusterB, string tokenFile)
    {
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Region"] = region,
            ["Ingest:Regions:0"] = "a",
            ["Ingest:Regions:1"] = "b",
            ["Ingest:Kafka:BootstrapServers"] = stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = "demo",
            ["Ingest:Kafka:Topics:0"] = Topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Table"] = Table,
            ["Ingest:ClickHouse:Target"] = "global",
            ["Ingest:Targets:global:Kind"] = "two-subcluster",
            // The quorum wait before a lost region's replica counts as gone (default 10 s), shortened for the story.
            ["Ingest:Targets:global:Quorum:Timeout"] = "00:00:03",
            ["Ingest:Batching:MaxAge"] = "00:00:00.500",
            ["Ingest:Admin:Url"] = $"http://127.0.0.1:{FreePorts.Next()}",
            ["Ingest:Admin:TokenFile"] = tokenFile,
        };
        for (var i = 0; i < 2; i++)
        {
            settings[$"Ingest:Targets:global:Subclusters:a:{i}"] = subclusterA[i].HttpEndpoint.ToString();
            settings[$"Ingest:Targets:global:Subclusters:b:{i}"] = subclusterB[i].HttpEndpoint.ToString();
        }
        return settings;
    }

    private static async Task CreateTablesAsync(ClickHouseServer node, CancellationToken ct)
    {
        await node.Client.ExecuteAsync("CREATE DATABASE IF NOT EXISTS demo", ct: ct);
        await node.Client.ExecuteAsync(
            $"CREATE TABLE {Table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{Table}', '{{replica}}') ORDER BY (_partition, _offset)", ct: ct);
        await node.Client.ExecuteAsync($"CREATE TABLE {Distributed} AS {Table} ENGINE = Distributed(ingest, demo, events)", ct: ct);
    }

    private static async Task<long> CountAsync(ClickHouseServer node, string tableOrQuery, CancellationToken ct) =>
        long.Parse(await node.Client.ScalarAsync(tableOrQuery.StartsWith("SELECT", StringComparison.Ordinal) ? tableOrQuery : $"SELECT count() FROM {tableOrQuery}", ct) ?? "0",
            CultureInfo.InvariantCulture);

    private sealed record Digest(long Rows, long Offsets, long Messages)
    {
        public override string ToString() => $"{Rows:N0} rows, {Offsets:N0} distinct offsets, {Messages:N0} distinct messages";
    }

    private static async Task<Digest> DigestAsync(ClickHouseServer node, CancellationToken ct)
    {
        var f = (await node.Client.QueryAsync($"SELECT count(), uniqExact(_partition, _offset), uniqExact(seq) FROM {Distributed} FORMAT TSV", ct: ct)).Trim().Split('\t');
        return new Digest(long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture));
    }

    /// <summary>Shows the claims of <c>takeover</c>/<c>failback --json</c>; returns how many partitions changed hands.</summary>
    private static int Show(Progress progress, JsonElement report, string reason)
    {
        var answer = report.GetProperty("workers")[0].GetProperty("answer");
        foreach (var check in answer.GetProperty("checks").EnumerateArray()) progress.Say($"    → {check.GetString()}");
        var changed = 0;
        foreach (var p in answer.GetProperty("routes")[0].GetProperty("partitions").EnumerateArray().Where(p => p.GetProperty("reason").GetString() == reason))
        {
            changed++;
            var start = p.GetProperty("start").GetInt64();
            var released = p.TryGetProperty("released", out var r) && r.ValueKind == JsonValueKind.Number ? $" released at {r.GetInt64():N0}" : "";
            var note = p.TryGetProperty("note", out var n) && n.ValueKind == JsonValueKind.String ? $" ({n.GetString()})" : "";
            progress.Say($"    → {p.GetProperty("topic")}[{p.GetProperty("partition")}] epoch {p.GetProperty("epoch")} owner {p.GetProperty("owner")}" +
                (start >= 0 ? $" from {start:N0}" : "") + released + note);
        }
        return changed;
    }
}

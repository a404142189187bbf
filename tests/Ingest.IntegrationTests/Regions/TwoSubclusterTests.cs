using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Ingest.Cli;
using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Processes;
using Ingest.Pipeline;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Regions;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Regions;

/// <summary>Two-subcluster targets on the real topology (ZooKeeper a and b; subcluster a = a1 + b1, subcluster b =
/// a2 + b2; Distributed table over both): each region writes the partitions it owns into its own subcluster and
/// follows the others; a lost region's partitions are taken over and handed back with every message exactly once in
/// the Distributed table; an owner frozen across a takeover writes nothing more. Workers are real processes driven
/// through the <c>ingest</c> CLI.</summary>
public sealed class TwoSubclusterTests(TwoSubclusterStack fixture, ITestOutputHelper output) : IClassFixture<TwoSubclusterStack>
{
    private const string Token = "two-subcluster-token";
    private const int Partitions = 4;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly LocalStack.Stack _stack = fixture.Stack;

    private ClickHouseServer A1 => _stack.Node("a1");
    private ClickHouseServer A2 => _stack.Node("a2");
    private ClickHouseServer B1 => _stack.Node("b1");
    private ClickHouseServer B2 => _stack.Node("b2");

    [Fact]
    public async Task Each_region_writes_the_partitions_it_owns_into_its_subcluster_and_follows_the_others()
    {
        var (topic, table) = await CreateAsync("own");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var (a, b) = (NewAdmin(), NewAdmin());
        await using var workerA = await StartWorkerAsync("a", topic, table, a);
        await using var workerB = await StartWorkerAsync("b", topic, table, b);
        try
        {
            await Poll.UntilAsync(() => B2.CountAsync($"SELECT count() FROM {table}"), n => n > 500, TimeSpan.FromSeconds(60));
            await Poll.UntilAsync(() => A1.CountAsync($"SELECT count() FROM {table}"), n => n > 500, TimeSpan.FromSeconds(60));
            // Region a sees b's checkpoints once b's INSERTs reach b1 (region a's replica of subcluster b) and a's
            // follower has read them, a FollowInterval later: waited for, as an operator reading the status would.
            var status = await Poll.UntilAsync(() => StatusAsync(a), s => s.GetProperty("partitions").EnumerateArray()
                .All(p => p.GetProperty("partition").GetInt32() % 2 == 0 || p.GetProperty("ownerNext") is { ValueKind: JsonValueKind.Number } next && next.GetInt64() > 0), TimeSpan.FromSeconds(30), everyMs: 250);
            foreach (var p in status.GetProperty("partitions").EnumerateArray())
            {
                var partition = p.GetProperty("partition").GetInt32();
                var owner = partition % 2 == 0 ? "a" : "b";
                Assert.Equal(owner, p.GetProperty("owner").GetString());
                Assert.Equal(owner == "a" ? "writing" : "following", p.GetProperty("holding").GetString());
                if (owner == "b")
                {
                    Assert.Contains("not-owned", p.GetProperty("pausedBy").EnumerateArray().Select(r => r.GetString()));
                    Assert.True(p.GetProperty("ownerNext") is { ValueKind: JsonValueKind.Number } next && next.GetInt64() > 0, $"partition {partition} shows no owner checkpoint: {p}");
                }
            }
            var ownership = await CliAsync("ownership", "--worker", b, "--token", Token, "--json");
            Assert.Equal(0, ownership.Code);
            output.WriteLine(ownership.Out);

            var total = await load.StopAsync();
            await AssertExactlyOnceAsync(B1, table, total);
            // Each subcluster holds only its region's partitions.
            Assert.Equal("0,2", (await A1.Client.QueryAsync($"SELECT arrayStringConcat(arraySort(groupUniqArray(toString(_partition))), ',') FROM {table}")).Trim());
            Assert.Equal("1,3", (await B2.Client.QueryAsync($"SELECT arrayStringConcat(arraySort(groupUniqArray(toString(_partition))), ',') FROM {table}")).Trim());
        }
        finally
        {
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Region_a_lost_taken_over_by_b_and_failed_back_keeps_every_message_exactly_once()
    {
        var (topic, table) = await CreateAsync("tko");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var (a, b) = (NewAdmin(), NewAdmin());
        WorkerProcess? workerA = await StartWorkerAsync("a", topic, table, a);
        await using var workerB = await StartWorkerAsync("b", topic, table, b);
        try
        {
            await Poll.UntilAsync(() => A1.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));
            await Poll.UntilAsync(() => B2.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));

            // Region a is lost: its worker, both its ClickHouse nodes and its ZooKeeper die at once.
            workerA.Kill();
            A1.Kill();
            A2.Kill();
            _stack.Keepers["a"].Kill();
            var lostAt = DateTime.UtcNow;
            var bAtLoss = await B2.CountAsync($"SELECT count() FROM {table}");
            await Poll.UntilAsync(() => B2.CountAsync($"SELECT count() FROM {table}"), n => n > bAtLoss + 500, TimeSpan.FromSeconds(60));
            output.WriteLine($"region b's own partitions writing again {(DateTime.UtcNow - lostAt).TotalSeconds:0.0} s after the loss (quorum degraded)");

            var takeover = await CliAsync("takeover", "--from", "a", "--worker", b, "--token", Token, "--timeout", "60s");
            output.WriteLine(takeover.Out + takeover.Error);
            Assert.Equal(0, takeover.Code);
            var takenAt = DateTime.UtcNow;
            await Poll.UntilAsync(() => StatusAsync(b), s => Holding(s, "writing") == Partitions, TimeSpan.FromSeconds(30), everyMs: 250);
            var evenRows = $"SELECT count() FROM {table} WHERE _partition % 2 = 0";
            await Poll.UntilAsync(() => B2.CountAsync(evenRows), n => n > 500, TimeSpan.FromSeconds(60));
            output.WriteLine($"region a's partitions written into subcluster b {(DateTime.UtcNow - takenAt).TotalSeconds:0.0} s after the takeover");

            var first = await load.StopAsync();
            await AssertExactlyOnceAsync(B1, table, first);

            // Region a comes back (Keeper first), its worker follows; failback hands its partitions back.
            await _stack.Keepers["a"].RestartAsync();
            await Task.WhenAll(A1.StartAsync(), A2.StartAsync());
            await workerA.DisposeAsync();
            workerA = await StartWorkerAsync("a", topic, table, a);
            await Poll.UntilAsync(() => StatusAsync(a), s => Holding(s, "following") == Partitions, TimeSpan.FromSeconds(60), everyMs: 250);
            await using var more = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
            try
            {
                var failback = await Poll.UntilAsync(() => CliAsync("failback", "--to", "a", "--worker", b, "--token", Token, "--timeout", "60s"),
                    r => r.Code == 0 || !r.Error.Contains("not fully back", StringComparison.Ordinal), TimeSpan.FromSeconds(60), everyMs: 1_000);
                output.WriteLine(failback.Out + failback.Error);
                Assert.Equal(0, failback.Code);
                await Poll.UntilAsync(() => StatusAsync(a), s => Holding(s, "writing") == 2, TimeSpan.FromSeconds(30), everyMs: 250);
                var aBefore = await A1.CountAsync(evenRows);
                await Poll.UntilAsync(() => A1.CountAsync(evenRows), n => n > aBefore + 300, TimeSpan.FromSeconds(60));
            }
            finally
            {
                first += await more.StopAsync();
            }
            // As the runbook says after a failback: with quorum, reconcile finds nothing unless region a's last INSERT
            // was left on a1 alone when it was lost (then it removes that copy).
            var reconcile = await CliAsync("reconcile", "--config", await ConfigFileAsync(Settings("b", topic, table, b), $"{topic}-b.json"), "--apply");
            output.WriteLine(reconcile.Out + reconcile.Error);
            Assert.Equal(0, reconcile.Code);
            foreach (var node in new[] { B1, A1 }) await AssertExactlyOnceAsync(node, table, first);
        }
        finally
        {
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
            await RegionABackAsync();
            if (workerA is not null) await workerA.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_owner_frozen_across_a_takeover_writes_nothing_when_it_wakes()
    {
        var (topic, table) = await CreateAsync("fnc");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var (a, b) = (NewAdmin(), NewAdmin());
        // A long MaxAge: when frozen, region a's worker holds open batches it will want to send on waking. A session
        // longer than the freeze: its group keeps its partitions, so only the ownership view can stop it.
        await using var workerA = await StartWorkerAsync("a", topic, table, a, maxAgeMs: 2_000, sessionTimeoutMs: 30_000);
        await using var workerB = await StartWorkerAsync("b", topic, table, b);
        try
        {
            await Poll.UntilAsync(() => A1.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));
            var refused = await CliAsync("takeover", "--from", "a", "--worker", b, "--token", Token, "--timeout", "60s");
            output.WriteLine(refused.Out + refused.Error);
            Assert.Equal(1, refused.Code);
            Assert.Contains("looks alive", refused.Error + refused.Out, StringComparison.Ordinal);

            workerA.Freeze();
            var frozenAt = DateTime.UtcNow;
            var takeover = await CliAsync("takeover", "--from", "a", "--force", "--worker", b, "--token", Token, "--json", "--timeout", "60s");
            Assert.Equal(0, takeover.Code);
            var starts = Starts(takeover.Out);
            output.WriteLine(string.Join(", ", starts.Select(s => $"{s.Key}@{s.Value}")));
            Assert.Equal([0, 2], starts.Keys.Order());
            await Poll.UntilAsync(() => StatusAsync(b), s => Holding(s, "writing") == Partitions, TimeSpan.FromSeconds(30), everyMs: 250);
            // Longer than the view may age (2 x FollowInterval + 1 s) before region a's worker sends a group.
            var frozenFor = TimeSpan.FromSeconds(6) - (DateTime.UtcNow - frozenAt);
            if (frozenFor > TimeSpan.Zero) await Task.Delay(frozenFor);

            workerA.Thaw();
            output.WriteLine($"region a's worker frozen {(DateTime.UtcNow - frozenAt).TotalSeconds:0.0} s");
            var status = await Poll.UntilAsync(() => StatusAsync(a), s => Holding(s, "following") == Partitions, TimeSpan.FromSeconds(30), everyMs: 250);
            Assert.Equal(Partitions, Holding(status, "following"));
            Assert.Equal(2, LocalStack.Prometheus.PrometheusText.Sum(await workerA.MetricsAsync(), "ingest_ownership_fenced_total"));
            await Task.Delay(3_000);
            var total = await load.StopAsync();

            // Nothing of the claimed ranges in subcluster a: the woken owner sent none of what it held.
            foreach (var (partition, start) in starts)
                Assert.Equal(0, await A1.CountAsync($"SELECT count() FROM {table} WHERE _partition = {partition} AND _offset >= {start}"));
            await AssertExactlyOnceAsync(B1, table, total);
        }
        finally
        {
            workerA.Thaw();
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Without_quorum_a_lagging_replica_leaves_duplicates_after_a_takeover_that_reconcile_removes()
    {
        var (topic, table) = await CreateAsync("rec");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var (a, b) = (NewAdmin(), NewAdmin());
        WorkerProcess? workerA = await StartWorkerAsync("a", topic, table, a, quorum: "Off");
        await using var workerB = await StartWorkerAsync("b", topic, table, b, quorum: "Off");
        try
        {
            await Poll.UntilAsync(() => A1.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));
            // b1, region b's replica of subcluster a, falls behind (frozen); then region a is lost: rows region a had
            // acknowledged without quorum are on a1 only, so the takeover starts before them.
            B1.Freeze();
            await Task.Delay(3_000);
            workerA.Kill();
            _stack.Keepers["a"].Kill();
            A1.Kill();
            A2.Kill();
            B1.Thaw();
            var takeover = await Poll.UntilAsync(() => CliAsync("takeover", "--from", "a", "--worker", b, "--token", Token, "--json", "--timeout", "60s"),
                r => r.Code == 0, TimeSpan.FromSeconds(30), everyMs: 1_000);
            Assert.Equal(0, takeover.Code);
            output.WriteLine("takeover starts: " + string.Join(", ", Starts(takeover.Out).Select(s => $"{s.Key}@{s.Value}")));
            await Poll.UntilAsync(() => StatusAsync(b), s => Holding(s, "writing") == Partitions, TimeSpan.FromSeconds(30), everyMs: 250);
            await Task.Delay(3_000);
            var total = await load.StopAsync();

            await RegionABackAsync();
            await workerA.DisposeAsync();
            workerA = await StartWorkerAsync("a", topic, table, a, quorum: "Off");
            await Poll.UntilAsync(() => StatusAsync(a), s => Holding(s, "following") == Partitions, TimeSpan.FromSeconds(60), everyMs: 250);
            // Once b1 has fetched what only a1 had, the Distributed table shows those offsets twice.
            var all = $"{table}_all";
            var seen = await Poll.UntilAsync(() => B1.CountAsync($"SELECT count() FROM {all}"), n => n > total, TimeSpan.FromSeconds(60), everyMs: 500);
            Assert.True(seen > total, $"no duplicates appeared ({seen} rows, {total} produced): the test did not make b1 lag");
            Assert.Equal(total, await B1.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {all}"));

            var config = await ConfigFileAsync(Settings("b", topic, table, b, quorum: "Off"), $"{topic}-b.json");
            var dryRun = await CliAsync("reconcile", "--config", config, "--json");
            output.WriteLine(dryRun.Out + dryRun.Error);
            Assert.Equal(1, dryRun.Code);
            using (var report = JsonDocument.Parse(dryRun.Out))
                Assert.Equal(await B1.CountAsync($"SELECT count() FROM {all}") - total, report.RootElement.GetProperty("duplicateOffsets").GetInt64());
            var applied = await CliAsync("reconcile", "--config", config, "--apply");
            output.WriteLine(applied.Out + applied.Error);
            Assert.Equal(0, applied.Code);
            foreach (var node in new[] { B1, A1 }) await AssertExactlyOnceAsync(node, table, total);
            // Kept where the range map says: offsets from each takeover's start live in subcluster b only.
            foreach (var (partition, start) in Starts(takeover.Out))
                Assert.Equal(0, await A1.CountAsync($"SELECT count() FROM {table} WHERE _partition = {partition} AND _offset >= {start}"));
        }
        finally
        {
            B1.Thaw();
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
            await RegionABackAsync();
            if (workerA is not null) await workerA.DisposeAsync();
        }
    }

    [Fact]
    public async Task Keeper_a_frozen_30_s_pauses_region_a_partitions_while_region_b_partitions_never_stop()
    {
        var (topic, table) = await CreateAsync("zkf");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var (a, b) = (NewAdmin(), NewAdmin());
        await using var workerA = await StartWorkerAsync("a", topic, table, a);
        await using var workerB = await StartWorkerAsync("b", topic, table, b);
        var keeper = _stack.Keepers["a"];
        try
        {
            await Poll.UntilAsync(() => A1.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));
            await Poll.UntilAsync(() => B2.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));
            keeper.Freeze();
            var frozenAt = DateTime.UtcNow;
            var paused = await Poll.UntilAsync(() => StatusAsync(a), s => ReadOnly(s) == 2, TimeSpan.FromSeconds(25), everyMs: 250);
            Assert.Equal(2, ReadOnly(paused));
            output.WriteLine($"region a's partitions paused target-read-only {(DateTime.UtcNow - frozenAt).TotalSeconds:0.0} s into the freeze");

            // Region b's partitions, in subcluster b, go on the whole time.
            var odd = $"SELECT count() FROM {table} WHERE _partition % 2 = 1";
            var before = await B2.CountAsync(odd);
            while (DateTime.UtcNow - frozenAt < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(5_000);
                var now = await B2.CountAsync(odd);
                Assert.True(now > before, $"region b's partitions stopped at {now} rows while Keeper a was frozen");
                before = now;
            }
            keeper.Thaw();
            var thawedAt = DateTime.UtcNow;
            await Poll.UntilAsync(() => StatusAsync(a), s => ReadOnly(s) == 0, TimeSpan.FromSeconds(60), everyMs: 250);
            var even = $"SELECT count() FROM {table} WHERE _partition % 2 = 0";
            var aBefore = await A1.CountAsync(even);
            await Poll.UntilAsync(() => A1.CountAsync(even), n => n > aBefore, TimeSpan.FromSeconds(60), everyMs: 250);
            output.WriteLine($"region a writing again {(DateTime.UtcNow - thawedAt).TotalSeconds:0.0} s after the Keeper was back");

            var total = await load.StopAsync();
            await AssertExactlyOnceAsync(B2, table, total);
        }
        finally
        {
            keeper.Thaw();
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Reads_of_the_other_subcluster_pass_over_a_replica_still_catching_up()
    {
        var (topic, table) = await CreateAsync("cup");
        // Region b's view: subcluster a is read through b1 first, then a1. No worker: the read alone is tested.
        var options = new ConfigurationBuilder()
            .AddInMemoryCollection(Settings("b", topic, table, NewAdmin()).Where(kv => !kv.Key.StartsWith("Ingest:Admin", StringComparison.Ordinal))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value)))
            .Build().GetSection("Ingest").Get<IngestOptions>()!;
        using var t = new SubclusterTarget(options, options.EffectiveRoutes()[0], options.Targets["global"]);
        foreach (var node in _stack.Nodes)
        {
            await node.Client.ExecuteAsync(OwnershipTable.CreateStatement(t.OwnershipTable, replicated: true));
            await node.Client.ExecuteAsync(CheckpointStore.CreateStatement(t.CheckpointTable, null, replicated: true));
        }
        var claim = new OwnershipClaim(topic, 0, 1, "b", 10, -1, -1, OwnershipClaim.Takeover, "a", "test", DateTimeOffset.UtcNow);
        bool Has(OtherSide? side) => side?.Claims.Any(c => c.Topic == topic && c.Epoch == 1) == true;
        await B1.Client.ExecuteAsync($"SYSTEM STOP FETCHES {t.OwnershipTable}");
        try
        {
            // Written through a1: b1 queues the part but does not fetch it, so its copy lacks the claim.
            await OwnershipTable.WriteAsync(A1.Client, t.OwnershipTable, t.BaseGroup, t.Table, [claim], CancellationToken.None);
            await Poll.UntilAsync(() => B1.CountAsync($"SELECT queue_size FROM system.replicas WHERE database = 'default' AND table = '{t.OwnershipTable[8..]}'"),
                n => n > 0, TimeSpan.FromSeconds(10));
            Assert.DoesNotContain(await OwnershipTable.ReadAsync(B1.Client, t.OwnershipTable, t.BaseGroup, t.Table, CancellationToken.None), c => c.Epoch == 1);

            var other = await SubclusterReads.OtherAsync(t, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.True(Has(other), "the read took b1's copy, which had not fetched the newest claim");
        }
        finally
        {
            await B1.Client.ExecuteAsync($"SYSTEM START FETCHES {t.OwnershipTable}");
        }
        // Caught up, b1 (the region's own replica, first in the list) answers again, with the claim.
        await Poll.UntilAsync(() => OwnershipTable.ReadAsync(B1.Client, t.OwnershipTable, t.BaseGroup, t.Table, CancellationToken.None), c => c.Any(x => x.Epoch == 1),
            TimeSpan.FromSeconds(30));
        Assert.True(Has(await SubclusterReads.OtherAsync(t, TimeSpan.FromSeconds(10), CancellationToken.None)));
    }

    /// <summary>Partitions this region writes that wait for their read-only target.</summary>
    private static int ReadOnly(JsonElement status) =>
        status.GetProperty("partitions").EnumerateArray().Count(p => p.GetProperty("holding").GetString() == "writing"
            && p.GetProperty("pausedBy").EnumerateArray().Any(r => r.GetString() == "target-read-only"));

    private static int Holding(JsonElement status, string holding) =>
        status.GetProperty("partitions").EnumerateArray().Count(p => p.TryGetProperty("holding", out var h) && h.GetString() == holding);

    private static Dictionary<int, long> Starts(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var answer = doc.RootElement.GetProperty("workers")[0].GetProperty("answer");
        return answer.GetProperty("routes")[0].GetProperty("partitions").EnumerateArray()
            .Where(p => p.GetProperty("reason").GetString() == "takeover")
            .ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.GetProperty("start").GetInt64());
    }

    private async Task<(string Topic, string Table)> CreateAsync(string prefix)
    {
        await RegionABackAsync();
        var topic = StackFixture.NewTopic(prefix);
        _stack.Kafka!.CreateTopic(topic, Partitions);
        var table = $"default.{prefix}_{Guid.NewGuid():N}"[..28];
        foreach (var node in _stack.Nodes)
        {
            await Load.CreateNamedTableAsync(node, table);
            await node.Client.ExecuteAsync($"CREATE TABLE {table}_all AS {table} ENGINE = Distributed(ingest, default, {table[8..]})");
        }
        return (topic, table);
    }

    /// <summary>A test that lost region a leaves it running again for the next (Keeper first: a replicated table
    /// started without its Keeper stays read-only).</summary>
    private async Task RegionABackAsync()
    {
        if (!_stack.Keepers["a"].IsRunning) await _stack.Keepers["a"].RestartAsync();
        foreach (var node in new[] { A1, A2 }.Where(n => !n.IsRunning)) await node.StartAsync();
    }

    /// <summary>The Distributed table reads each subcluster from its first replica in the node's list (in_order: the
    /// region's own); one still catching up after Keeper came back (its session re-established, its queue
    /// refetched) would show fewer rows and hide duplicates, so a replica more than 2 s behind is passed over.</summary>
    private static readonly Dictionary<string, string> FreshReplicas = new() { ["max_replica_delay_for_distributed_queries"] = "2" };

    private async Task AssertExactlyOnceAsync(ClickHouseServer node, string table, long produced)
    {
        var all = $"{table}_all";
        async Task<string> ReadAsync() =>
            (await node.Client.QueryAsync($"SELECT count(), uniqExact(_partition, _offset) FROM {all} FORMAT TSV", FreshReplicas)).Trim();
        await Poll.UntilAsync(ReadAsync, l => long.Parse(l.Split('\t')[1], CultureInfo.InvariantCulture) >= produced, TimeSpan.FromSeconds(90), everyMs: 500);
        await Task.Delay(1_500);
        var line = await ReadAsync();
        if (line != $"{produced}\t{produced}")
            output.WriteLine($"{all} on {node.Name}: {line} of {produced}\n{await GapsAsync(node, all)}\n{await ReplicasAsync(table)}\n{WorkerLogs(table)}");
        Assert.Equal($"{produced}\t{produced}", line);
    }

    /// <summary>Per partition, the offsets missing below its highest and those seen twice, as ranges.</summary>
    private static async Task<string> GapsAsync(ClickHouseServer node, string table)
    {
        var report = new System.Text.StringBuilder();
        var rows = (await node.Client.QueryAsync($"SELECT _partition, _offset, count() FROM {table} GROUP BY _partition, _offset ORDER BY _partition, _offset FORMAT TSV", FreshReplicas))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Select(f => (P: int.Parse(f[0], CultureInfo.InvariantCulture), O: long.Parse(f[1], CultureInfo.InvariantCulture), N: int.Parse(f[2], CultureInfo.InvariantCulture)));
        foreach (var partition in rows.GroupBy(r => r.P))
        {
            long next = 0;
            var missing = new List<string>();
            foreach (var r in partition)
            {
                if (r.O > next) missing.Add($"{next}..{r.O - 1}");
                next = r.O + 1;
            }
            var twice = partition.Where(r => r.N > 1).Select(r => r.O).ToList();
            report.AppendLine($"partition {partition.Key}: up to {next - 1}, missing [{string.Join(' ', missing)}], duplicated {twice.Count}{(twice.Count > 0 ? $" (first {twice[0]})" : "")}");
        }
        return report.ToString();
    }

    /// <summary>The workers' warnings and errors (retries, quorum changes, endpoint failures) for the table.</summary>
    private string WorkerLogs(string table)
    {
        var report = new System.Text.StringBuilder();
        foreach (var file in Directory.EnumerateFiles(_stack.Directory, "worker-*.log"))
        {
            var lines = File.ReadLines(file).Where(l => l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)
                || l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("Quorum", StringComparison.Ordinal)).TakeLast(40).ToList();
            if (lines.Count > 0 && File.ReadLines(file).Any(l => l.Contains(table[8..], StringComparison.Ordinal)))
                report.AppendLine($"{Path.GetFileName(file)}:\n{string.Join('\n', lines)}");
        }
        return report.ToString();
    }

    /// <summary>Each replica's rows and replication state, and its last errors: whether rows were never written or a
    /// replica the Distributed table reads (in_order: the region's own first) had not caught up.</summary>
    private async Task<string> ReplicasAsync(string table)
    {
        var report = new System.Text.StringBuilder();
        foreach (var node in _stack.Nodes.Where(n => n.IsRunning))
        {
            try
            {
                var rows = (await node.Client.QueryAsync(
                    $"SELECT _partition, count(), min(_offset), max(_offset) FROM {table} GROUP BY _partition ORDER BY _partition FORMAT TSV")).Trim();
                var replica = (await node.Client.QueryAsync("SELECT is_readonly, is_session_expired, queue_size, inserts_in_queue, absolute_delay, " +
                    $"active_replicas, total_replicas FROM system.replicas WHERE database = 'default' AND table = '{table[8..]}' FORMAT TSVWithNames")).Trim();
                report.AppendLine($"{node.Name} (shard {node.Shard}): partition/count/min/max\n{rows}\n{replica}");
            }
            catch (Exception e)
            {
                report.AppendLine($"{node.Name}: {e.Message}");
            }
            var errors = Path.Combine(node.Directory, "log", "error.log");
            if (File.Exists(errors))
                report.AppendLine(string.Join('\n', File.ReadLines(errors).Where(l => l.StartsWith("20", StringComparison.Ordinal) && l.Contains(table[8..], StringComparison.Ordinal)).TakeLast(8)));
        }
        return report.ToString();
    }

    private static string NewAdmin() => $"http://127.0.0.1:{FreePorts.Next()}";

    private Task<WorkerProcess> StartWorkerAsync(string region, string topic, string table, string admin, int maxAgeMs = 300, int sessionTimeoutMs = 6_000,
        string quorum = "Auto") =>
        WorkerProcess.StartAsync(Settings(region, topic, table, admin, maxAgeMs, sessionTimeoutMs, quorum),
            Path.Combine(_stack.Directory, $"worker-{topic}-{region}-{Guid.NewGuid():N}"[..60] + ".log"));

    private Dictionary<string, string> Settings(string region, string topic, string table, string admin, int maxAgeMs = 300, int sessionTimeoutMs = 6_000,
        string quorum = "Auto")
    {
        var (home, other) = region == "a" ? (new[] { A1, B1 }, new[] { A2, B2 }) : (new[] { B2, A2 }, new[] { B1, A1 });
        // Subcluster a = a1 + b1, b = a2 + b2; each region lists its local replica first.
        var (subA, subB) = region == "a" ? (home, other) : (other, home);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Region"] = region,
            ["Ingest:Regions:0"] = "a",
            ["Ingest:Regions:1"] = "b",
            ["Ingest:Kafka:BootstrapServers"] = _stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = topic,
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = sessionTimeoutMs.ToString(CultureInfo.InvariantCulture),
            ["Ingest:ClickHouse:Table"] = table,
            ["Ingest:ClickHouse:Target"] = "global",
            ["Ingest:Targets:global:Kind"] = "two-subcluster",
            ["Ingest:Targets:global:Quorum:Mode"] = quorum,
            ["Ingest:Targets:global:Quorum:Timeout"] = "00:00:03",
            ["Ingest:Batching:MaxAge"] = TimeSpan.FromMilliseconds(maxAgeMs).ToString(null, CultureInfo.InvariantCulture),
            ["Ingest:Admin:Url"] = admin,
            ["Ingest:Admin:Token"] = Token,
        };
        for (var i = 0; i < 2; i++)
        {
            settings[$"Ingest:Targets:global:Subclusters:a:{i}"] = subA[i].HttpEndpoint.ToString();
            settings[$"Ingest:Targets:global:Subclusters:b:{i}"] = subB[i].HttpEndpoint.ToString();
        }
        return settings;
    }

    /// <summary>"Ingest:Kafka:Topics:0" = "t" → {"Ingest": {"Kafka": {"Topics": {"0": "t"}}}}: a worker configuration file.</summary>
    private async Task<string> ConfigFileAsync(Dictionary<string, string> settings, string name)
    {
        var root = new System.Text.Json.Nodes.JsonObject();
        foreach (var (key, value) in settings.Where(kv => !kv.Key.StartsWith("Ingest:Admin", StringComparison.Ordinal)))
        {
            var node = root;
            var parts = key.Split(':');
            foreach (var part in parts[..^1]) node = node[part] as System.Text.Json.Nodes.JsonObject ?? (System.Text.Json.Nodes.JsonObject)(node[part] = new System.Text.Json.Nodes.JsonObject());
            node[parts[^1]] = value;
        }
        var path = Path.Combine(_stack.Directory, name);
        await File.WriteAllTextAsync(path, root.ToJsonString());
        return path;
    }

    private static async Task<JsonElement> StatusAsync(string admin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{admin}/status");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        try
        {
            using var response = await Http.SendAsync(request);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return JsonDocument.Parse("""{"partitions": []}""").RootElement.Clone();
        }
    }

    private static async Task<(int Code, string Out, string Error)> CliAsync(params string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var code = await IngestCli.RunAsync(args, new CliIo(stdout, stderr, _ => null) { Width = 250 });
        return (code, stdout.ToString(), stderr.ToString());
    }
}

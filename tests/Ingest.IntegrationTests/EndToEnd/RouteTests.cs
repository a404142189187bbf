using System.Diagnostics;
using Ingest.LocalStack.Processes;
using Ingest.Pipeline;
using Ingest.Pipeline.Control;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>One worker, two routes (two topics into two tables, 18.16 ReplicatedMergeTree): each table exactly once
/// under kill -9, and a dropped table pauses only its own route.</summary>
public sealed class RouteTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task Two_routes_under_kill_9_each_land_exactly_once()
    {
        var random = new Random(Environment.TickCount);
        var (clicks, views) = (StackFixture.NewTopic("clk"), StackFixture.NewTopic("vw"));
        _stack.Kafka!.CreateTopic(clicks, 8);
        _stack.Kafka.CreateTopic(views, 8);
        var (clicksTable, viewsTable) = (await Load.CreateTableAsync(Node, "clk"), await Load.CreateTableAsync(Node, "vw"));
        await using var clicksLoad = new SteadyProducer(_stack.KafkaBootstrap, clicks, perTick: 600, tickMs: 100);
        await using var viewsLoad = new SteadyProducer(_stack.KafkaBootstrap, views, perTick: 400, tickMs: 100);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Region"] = "a",
            ["Ingest:Kafka:BootstrapServers"] = _stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = clicks,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Endpoints:0"] = Node.HttpEndpoint.ToString(),
            ["Ingest:Batching:MaxAge"] = "00:00:00.200",
            ["Ingest:Batching:MaxRows"] = "2000",
            ["Ingest:Routes:0:Topics:0"] = clicks,
            ["Ingest:Routes:0:Table"] = clicksTable,
            ["Ingest:Routes:1:Name"] = "views",
            ["Ingest:Routes:1:Topics:0"] = views,
            ["Ingest:Routes:1:Table"] = viewsTable,
        };
        for (var round = 0; round < 5; round++)
        {
            await using var worker = await WorkerProcess.StartAsync(settings, Path.Combine(_stack.Directory, $"worker-{clicks}-{round}.log"));
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {viewsTable}"), n => n > 0, TimeSpan.FromSeconds(30));
            await Task.Delay(random.Next(500, 2_500));
            worker.Kill();
            output.WriteLine($"round {round}: killed at {await Node.CountAsync($"SELECT count() FROM {clicksTable}")} clicks, {await Node.CountAsync($"SELECT count() FROM {viewsTable}")} views");
        }
        var (clicksTotal, viewsTotal) = (await clicksLoad.StopAsync(), await viewsLoad.StopAsync());
        await using (var last = await WorkerProcess.StartAsync(settings, Path.Combine(_stack.Directory, $"worker-{clicks}-last.log")))
        {
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {clicksTable}"), n => n >= clicksTotal, TimeSpan.FromSeconds(90));
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {viewsTable}"), n => n >= viewsTotal, TimeSpan.FromSeconds(90));
            await Task.Delay(1_000);
            Assert.Equal(0, await last.StopAsync(TimeSpan.FromSeconds(30)));
        }
        foreach (var (table, total) in new[] { (clicksTable, clicksTotal), (viewsTable, viewsTotal) })
        {
            Assert.Equal(total, await Node.CountAsync($"SELECT count() FROM {table}"));
            Assert.Equal(total, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
            Assert.Equal(total * (total - 1) / 2, await Node.CountAsync($"SELECT sum(seq) FROM {table}"));
        }
        // Each table has its own checkpoints.
        Assert.Equal(2, await Node.CountAsync($"SELECT uniqExact(target_table) FROM default.ingest_checkpoints WHERE consumer_group = '{clicks}.a'"));
    }

    [Fact]
    public async Task A_dropped_table_pauses_its_route_with_a_clear_status_while_the_other_goes_on()
    {
        var (clicks, views) = (StackFixture.NewTopic("clk"), StackFixture.NewTopic("vw"));
        _stack.Kafka!.CreateTopic(clicks, 4);
        _stack.Kafka.CreateTopic(views, 4);
        var (clicksTable, viewsTable) = (await Load.CreateTableAsync(Node, "clk"), await Load.CreateTableAsync(Node, "vw"));
        await using var clicksLoad = new SteadyProducer(_stack.KafkaBootstrap, clicks, perTick: 200, tickMs: 50);
        await using var viewsLoad = new SteadyProducer(_stack.KafkaBootstrap, views, perTick: 200, tickMs: 50);
        var options = Load.Options(_stack.KafkaBootstrap, Node, clicks, clicksTable);
        options.Kafka.Topics = [];
        options.ClickHouse.Table = "";
        options.Routes = [new RouteOptions { Topics = [clicks], Table = clicksTable }, new RouteOptions { Name = "views", Topics = [views], Table = viewsTable }];
        using var pipeline = new InProcessPipeline(options);

        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {viewsTable}"), n => n > 1_000, TimeSpan.FromSeconds(30));
        await Node.Client.ExecuteAsync($"DROP TABLE {viewsTable}");
        var failed = await Poll.UntilAsync(() => Task.FromResult(pipeline.Control.Status), s => s.Routes.Any(r => r.Name == "views" && r.Error is not null), TimeSpan.FromSeconds(30));
        var route = failed.Routes.Single(r => r.Name == "views");
        output.WriteLine($"views route: {route.Error}");
        Assert.Contains(viewsTable, route.Error, StringComparison.Ordinal);
        Assert.All(failed.Partitions.Where(p => p.Topic == views), p => Assert.Contains("target-failed", p.PausedBy));
        Assert.All(failed.Partitions.Where(p => p.Topic == clicks), p => Assert.Empty(p.PausedBy));
        Assert.True(pipeline.IsRunning, "the worker must go on with its other route");

        // Clicks keep flowing while views wait.
        var before = await Node.CountAsync($"SELECT count() FROM {clicksTable}");
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {clicksTable}"), n => n > before + 1_000, TimeSpan.FromSeconds(30));
        var committed = failed.Partitions.Where(p => p.Topic == views).Sum(p => p.Committed ?? 0);

        // The operator recreates the table and resumes the route: it goes on from its last committed offsets.
        await Load.CreateNamedTableAsync(Node, viewsTable);
        var resumed = await pipeline.Control.ResumeAsync(new PartitionSelector(views), PauseReasons.TargetFailed, CancellationToken.None);
        Assert.All(resumed.Partitions, p => Assert.Empty(p.PausedBy));
        var (clicksTotal, viewsTotal) = (await clicksLoad.StopAsync(), await viewsLoad.StopAsync());
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {clicksTable}"), n => n >= clicksTotal, TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {viewsTable}"), n => n >= viewsTotal - committed, TimeSpan.FromSeconds(60));
        await Task.Delay(1_000);
        pipeline.Stop();

        Assert.Equal(clicksTotal, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {clicksTable}"));
        Assert.Equal(clicksTotal, await Node.CountAsync($"SELECT count() FROM {clicksTable}"));
        // Views: what was stored before the drop is gone with the table; from the committed offsets on, every message
        // once.
        Assert.Equal(viewsTotal - committed, await Node.CountAsync($"SELECT count() FROM {viewsTable}"));
        Assert.Equal(viewsTotal - committed, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {viewsTable}"));
        Assert.Null(pipeline.Control.Status.Routes.Single(r => r.Name == "views").Error);
    }

    [Fact]
    public async Task A_failed_route_survives_a_rebalance_and_resumes_once_from_its_committed_offsets()
    {
        var topic = StackFixture.NewTopic("rbf");
        _stack.Kafka!.CreateTopic(topic, 2);
        var table = await Load.CreateTableAsync(Node, "rbf");
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 100, tickMs: 50);
        using var pipeline = new InProcessPipeline(Load.Options(_stack.KafkaBootstrap, Node, topic, table));
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n > 500, TimeSpan.FromSeconds(30));
        await Node.Client.ExecuteAsync($"DROP TABLE {table}");
        var failed = await Poll.UntilAsync(() => Task.FromResult(pipeline.Control.Status), s => s.Routes.Any(r => r.Error is not null), TimeSpan.FromSeconds(30));
        await Task.Delay(500); // the refused group's pending checkpoint is written before its INSERT

        // Another member joins and leaves (what a restore's probe does): the partitions are revoked and assigned again,
        // with a pending checkpoint whose table is gone. The worker must keep waiting, not fail replaying into it.
        var probe = await Assert.ThrowsAsync<Pipeline.Kafka.GroupHasActiveMembersException>(() =>
            new Pipeline.Kafka.GroupOffsets().EnsureNoActiveMembersAsync(_stack.KafkaBootstrap, $"{topic}.a", [topic]));
        output.WriteLine(probe.Message);
        var reassigned = await Poll.UntilAsync(() => Task.FromResult(pipeline.Control.Status),
            s => s.Partitions.Count == 2 && s.Partitions.All(p => p.PausedBy.Contains("target-failed")), TimeSpan.FromSeconds(30));
        Assert.True(pipeline.IsRunning, $"the worker failed: {pipeline.Error}");
        Assert.All(reassigned.Partitions, p => Assert.Contains("target-failed", p.PausedBy));
        // Where the partitions wait now: an INSERT that landed just before the drop may have been acknowledged after the
        // route failed, so this can be past what the first failed snapshot showed; never before it.
        var committed = reassigned.Partitions.Sum(p => p.Committed ?? 0);
        Assert.True(committed >= failed.Partitions.Sum(p => p.Committed ?? 0), $"resumed at {committed}, before the failure's committed offsets");

        await Load.CreateNamedTableAsync(Node, table);
        await pipeline.Control.ResumeAsync(new PartitionSelector(topic), PauseReasons.TargetFailed, CancellationToken.None);
        var total = await load.StopAsync();
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= total - committed, TimeSpan.FromSeconds(60));
        await Task.Delay(1_000);
        pipeline.Stop();
        Assert.Equal(total - committed, await Node.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(total - committed, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
    }

    [Fact]
    public async Task Two_workers_with_static_instance_ids_share_the_partitions()
    {
        var topic = StackFixture.NewTopic("static");
        _stack.Kafka!.CreateTopic(topic, 6);
        var table = await Load.CreateTableAsync(Node, "static");
        IngestOptions For(string id)
        {
            var o = Load.Options(_stack.KafkaBootstrap, Node, topic, table);
            o.Kafka.InstanceId = id;
            return o;
        }
        using var one = new InProcessPipeline(For("worker-1"));
        using var two = new InProcessPipeline(For("worker-2"));
        var total = SampleEvents(topic, 6_000);
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= total, TimeSpan.FromSeconds(60));
        // The mock starts groups without an initial rebalance delay: the first member to join takes every partition
        // and the second gets its share in the rebalance its join causes, which can come after the rows landed.
        var settling = Stopwatch.StartNew();
        var (a, b) = await Poll.UntilAsync(() => Task.FromResult((one.Control.Status.Partitions.Count, two.Control.Status.Partitions.Count)),
            split => split.Item1 > 0 && split.Item2 > 0 && split.Item1 + split.Item2 == 6, TimeSpan.FromSeconds(30));
        output.WriteLine($"worker-1: {a} partitions, worker-2: {b} ({settling.Elapsed.TotalSeconds:0.0} s after the rows landed)");
        Assert.True(a > 0 && b > 0 && a + b == 6, $"partitions split {a} + {b}");
        one.Stop();
        two.Stop();
        Assert.Equal(total, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
        Assert.Equal(total, await Node.CountAsync($"SELECT count() FROM {table}"));
    }

    [Fact]
    public async Task A_topic_pattern_routes_every_matching_topic_into_its_table()
    {
        var prefix = $"pat{Guid.NewGuid():N}"[..12];
        var (one, two, other) = ($"{prefix}.one", $"{prefix}.two", $"x{prefix}.one");
        foreach (var t in new[] { one, two, other }) _stack.Kafka!.CreateTopic(t, 2);
        var table = await Load.CreateTableAsync(Node, "pat");
        var options = Load.Options(_stack.KafkaBootstrap, Node, prefix, table);
        options.Kafka.Topics = [];
        options.ClickHouse.Table = "";
        options.Routes = [new RouteOptions { Name = "pattern", TopicPattern = $"{prefix}\\..*", Table = table }];
        using var pipeline = new InProcessPipeline(options);
        LocalStack.Kafka.SampleEvents.Produce(_stack.KafkaBootstrap, one, 0, 300);
        LocalStack.Kafka.SampleEvents.Produce(_stack.KafkaBootstrap, two, 300, 200);
        LocalStack.Kafka.SampleEvents.Produce(_stack.KafkaBootstrap, other, 500, 100);
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 500, TimeSpan.FromSeconds(60));
        await Task.Delay(1_000);
        var topics = pipeline.Control.Status.Partitions.Select(p => p.Topic).Distinct().Order().ToList();
        pipeline.Stop();
        Assert.Equal([one, two], topics);
        Assert.Equal(500, await Node.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(500, await Node.CountAsync($"SELECT uniqExact(seq) FROM {table} WHERE seq < 500"));
    }

    private long SampleEvents(string topic, long count) => LocalStack.Kafka.SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, count);
}

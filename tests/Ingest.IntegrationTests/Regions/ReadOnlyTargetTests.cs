using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.Processes;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Regions;

/// <summary>A Keeper that hangs makes its replicated tables read-only (18.16: 999, then 242): the region writing there
/// pauses with reason target-read-only and goes on by itself once the Keeper is back; the other region, on its own
/// Keeper, never stops; nothing is lost or duplicated.</summary>
public sealed class ReadOnlyTargetTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Keeper_a_frozen_30_s_pauses_region_a_until_it_is_back_while_region_b_never_stops()
    {
        var (a, b) = (_stack.Node("a1"), _stack.Node("b1"));
        var topic = StackFixture.NewTopic("ro");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = $"default.ro_{Guid.NewGuid():N}"[..27];
        await Load.CreateNamedTableAsync(a, table);
        await Load.CreateNamedTableAsync(b, table);
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 100, tickMs: 50);
        var optionsB = Load.Options(_stack.KafkaBootstrap, b, topic, table);
        optionsB.Region = "b";
        using var regionA = new InProcessPipeline(Load.Options(_stack.KafkaBootstrap, a, topic, table));
        using var regionB = new InProcessPipeline(optionsB);
        var keeper = _stack.Keepers["a"];
        try
        {
            await Poll.UntilAsync(() => a.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));

            keeper.Freeze();
            var frozenAt = DateTime.UtcNow;
            var paused = await Poll.UntilAsync(() => Task.FromResult(regionA.Control.Status),
                s => s.Partitions.Count > 0 && s.Partitions.All(p => p.PausedBy.Contains("target-read-only")), TimeSpan.FromSeconds(25));
            output.WriteLine($"region a paused after {(DateTime.UtcNow - frozenAt).TotalSeconds:0.0} s: {string.Join(", ", paused.Partitions.Select(p => string.Join('+', p.PausedBy)))}");
            Assert.All(paused.Partitions, p => Assert.Contains("target-read-only", p.PausedBy));
            Assert.True(paused.Targets.Single().ReadOnly);

            // Region b goes on the whole time.
            var bBefore = await b.CountAsync($"SELECT count() FROM {table}");
            while (DateTime.UtcNow - frozenAt < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(5_000);
                var bNow = await b.CountAsync($"SELECT count() FROM {table}");
                Assert.True(bNow > bBefore, $"region b stopped at {bNow} rows while Keeper a was frozen");
                bBefore = bNow;
                Assert.True(regionA.IsRunning, $"region a failed: {regionA.Error}");
            }
            keeper.Thaw();
            var thawedAt = DateTime.UtcNow;
            await Poll.UntilAsync(() => Task.FromResult(regionA.Control.Status), s => s.Partitions.All(p => p.PausedBy.Count == 0), TimeSpan.FromSeconds(60));
            output.WriteLine($"region a writing again {(DateTime.UtcNow - thawedAt).TotalSeconds:0.0} s after the Keeper was back");

            var total = await load.StopAsync();
            foreach (var node in new[] { a, b })
                await Poll.UntilAsync(() => node.CountAsync($"SELECT count() FROM {table}"), n => n >= total, TimeSpan.FromSeconds(90));
            await Task.Delay(1_000);
            foreach (var node in new[] { a, b })
            {
                Assert.Equal(total, await node.CountAsync($"SELECT count() FROM {table}"));
                Assert.Equal(total, await node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
            }
        }
        finally
        {
            keeper.Thaw();
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task The_worker_reports_a_read_only_target_as_degraded_readiness_until_its_keeper_is_back()
    {
        var a = _stack.Node("a1");
        var topic = StackFixture.NewTopic("rohl");
        _stack.Kafka!.CreateTopic(topic, 2);
        var table = $"default.rohl_{Guid.NewGuid():N}"[..29];
        await Load.CreateNamedTableAsync(a, table);
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 50, tickMs: 50);
        var keeper = _stack.Keepers["a"];
        await using var worker = await WorkerProcess.StartAsync(Load.WorkerSettings(_stack.KafkaBootstrap, a, topic, table),
            Path.Combine(_stack.Directory, $"worker-{topic}.log"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        async Task<(int Code, string Body)> ReadyAsync()
        {
            using var response = await http.GetAsync(new Uri(worker.AdminEndpoint, "health/ready"));
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        try
        {
            await Poll.UntilAsync(() => a.CountAsync($"SELECT count() FROM {table}"), n => n > 200, TimeSpan.FromSeconds(60));
            var healthy = await ReadyAsync();
            Assert.Equal(200, healthy.Code);
            Assert.StartsWith("Healthy", healthy.Body, StringComparison.Ordinal);

            keeper.Freeze();
            var degraded = await Poll.UntilAsync(ReadyAsync, r => r.Body.Contains("read-only", StringComparison.Ordinal), TimeSpan.FromSeconds(30), everyMs: 250);
            output.WriteLine($"{degraded.Code} {degraded.Body}");
            Assert.Equal(200, degraded.Code); // still ready: other routes and targets are served
            Assert.StartsWith("Degraded", degraded.Body, StringComparison.Ordinal);
            Assert.Contains($"target {table} is read-only", degraded.Body, StringComparison.Ordinal);

            keeper.Thaw();
            var back = await Poll.UntilAsync(ReadyAsync, r => r.Body.StartsWith("Healthy", StringComparison.Ordinal), TimeSpan.FromSeconds(60), everyMs: 250);
            Assert.Equal(200, back.Code);
            Assert.StartsWith("Healthy", back.Body, StringComparison.Ordinal);
            var total = await load.StopAsync();
            Assert.Equal(total, await Poll.UntilAsync(() => a.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"), n => n >= total, TimeSpan.FromSeconds(60)));
        }
        finally
        {
            keeper.Thaw();
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}

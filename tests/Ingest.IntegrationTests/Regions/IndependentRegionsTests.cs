using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Processes;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Regions;

/// <summary>Independent targets: each region consumes every message under its own group into its own cluster. A region
/// lost while the other goes on (its ClickHouse and its worker killed), then back, ends with the same table row for row.</summary>
public sealed class IndependentRegionsTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Region_b_lost_while_producing_and_back_ends_equal_to_region_a_row_for_row()
    {
        var (a, b) = (_stack.Node("a1"), _stack.Node("b1"));
        var topic = StackFixture.NewTopic("ind");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = $"default.ind_{Guid.NewGuid():N}"[..28];
        await Load.CreateNamedTableAsync(a, table);
        await Load.CreateNamedTableAsync(b, table);
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 100, tickMs: 50);
        WorkerProcess? workerA = null, workerB = null;
        try
        {
            workerA = await StartAsync(a, "a", topic, table);
            workerB = await StartAsync(b, "b", topic, table);
            await Poll.UntilAsync(() => b.CountAsync($"SELECT count() FROM {table}"), n => n > 1_000, TimeSpan.FromSeconds(60));

            // Region b goes dark: its server and its worker die at once; region a keeps ingesting.
            b.Kill();
            workerB.Kill();
            var atLoss = await a.CountAsync($"SELECT count() FROM {table}");
            await Poll.UntilAsync(() => a.CountAsync($"SELECT count() FROM {table}"), n => n > atLoss + 2_000, TimeSpan.FromSeconds(60));

            await b.StartAsync();
            await workerB.DisposeAsync();
            workerB = await StartAsync(b, "b", topic, table);
            var total = await load.StopAsync();
            foreach (var node in new[] { a, b })
                await Poll.UntilAsync(() => node.CountAsync($"SELECT count() FROM {table}"), n => n >= total, TimeSpan.FromSeconds(90));
            await Task.Delay(1_000);

            const string digest = "SELECT count(), uniqExact(_partition, _offset), sum(cityHash64(_partition, _offset, seq, user_id, event, value)) FROM ";
            var (rowsA, rowsB) = (await a.Client.QueryAsync(digest + table + " FORMAT TSV"), await b.Client.QueryAsync(digest + table + " FORMAT TSV"));
            output.WriteLine($"produced {total}; region a {rowsA.Trim()}; region b {rowsB.Trim()}");
            Assert.Equal(rowsA, rowsB);
            Assert.StartsWith($"{total}\t{total}\t", rowsA);
        }
        finally
        {
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
            if (!b.IsRunning) await b.StartAsync();
            if (workerA is not null) await workerA.DisposeAsync();
            if (workerB is not null) await workerB.DisposeAsync();
        }
    }

    /// <summary>A worker writing through a named independent target (Ingest:Targets), as a two-region deployment is
    /// configured.</summary>
    private Task<WorkerProcess> StartAsync(ClickHouseServer node, string region, string topic, string table)
    {
        var settings = Load.WorkerSettings(_stack.KafkaBootstrap, node, topic, table, region);
        settings.Remove("Ingest:ClickHouse:Endpoints:0");
        settings["Ingest:Regions:0"] = "a";
        settings["Ingest:Regions:1"] = "b";
        settings["Ingest:ClickHouse:Target"] = "local";
        settings["Ingest:Targets:local:Kind"] = "independent";
        settings["Ingest:Targets:local:Endpoints:0"] = node.HttpEndpoint.ToString();
        return WorkerProcess.StartAsync(settings, Path.Combine(_stack.Directory, $"worker-{topic}-{region}-{Environment.TickCount64}.log"));
    }
}

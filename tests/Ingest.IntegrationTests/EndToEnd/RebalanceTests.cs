using Xunit.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>Workers of one group joining and leaving over and over while messages arrive (18.16,
/// ReplicatedMergeTree): partitions move with batches in flight; every message must end up as exactly one row.</summary>
public sealed class RebalanceTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task Three_workers_joining_and_leaving_repeatedly_lose_and_duplicate_nothing()
    {
        var random = new Random(Environment.TickCount);
        var topic = StackFixture.NewTopic("storm");
        _stack.Kafka!.CreateTopic(topic, 6);
        var table = await Load.CreateTableAsync(Node, "storm");
        await using var producer = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 300, tickMs: 50);
        var options = Load.Options(_stack.KafkaBootstrap, Node, topic, table, maxAgeMs: 150, maxRows: 1500);

        var workers = new List<InProcessPipeline> { new(options) };
        var changes = 0;
        try
        {
            // 12 membership changes, 1-3 s apart: a worker joins while fewer than 3 run, else one leaves (clean
            // stop: it flushes and checkpoints its partitions before the group moves them).
            for (var step = 0; step < 12; step++)
            {
                await Task.Delay(random.Next(1000, 3000));
                if (workers.Count < 3 && (workers.Count == 1 || random.Next(2) == 0))
                {
                    workers.Add(new InProcessPipeline(options));
                }
                else
                {
                    var leaving = workers[random.Next(workers.Count)];
                    workers.Remove(leaving);
                    leaving.Stop();
                    leaving.Dispose();
                }
                changes++;
                output.WriteLine($"step {step}: {workers.Count} workers, {await Node.CountAsync($"SELECT count() FROM {table}")} rows, {producer.Produced} produced");
            }
            var total = await producer.StopAsync();
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= total || workers.Any(w => !w.IsRunning), TimeSpan.FromSeconds(90));
            await Task.Delay(1000); // past a batch age: a late duplicate would show now

            Assert.Equal(12, changes);
            Assert.Equal(total, await Node.CountAsync($"SELECT count() FROM {table}"));
            Assert.Equal(total, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
            Assert.Equal(total * (total - 1) / 2, await Node.CountAsync($"SELECT sum(seq) FROM {table}"));
        }
        finally
        {
            foreach (var w in workers)
            {
                w.Stop();
                w.Dispose();
            }
        }
    }
}

using System.Globalization;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>Workers of one group joining and leaving over and over while messages arrive (18.16,
/// ReplicatedMergeTree): partitions move with batches in flight and replays pending; every message must end up as
/// exactly one row.</summary>
public sealed class RebalanceTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task Three_workers_joining_and_leaving_repeatedly_lose_and_duplicate_nothing()
    {
        const int partitions = 6;
        var random = new Random(Environment.TickCount);
        var topic = StackFixture.NewTopic("storm");
        _stack.Kafka!.CreateTopic(topic, partitions);
        var table = $"default.storm_{Guid.NewGuid():N}"[..30];
        await Node.Client.ExecuteAsync(
            $"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}') ORDER BY (_partition, _offset)");

        long produced = 0;
        using var stopProducing = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            while (!stopProducing.IsCancellationRequested)
            {
                Interlocked.Add(ref produced, SampleEvents.Produce(_stack.KafkaBootstrap, topic, Interlocked.Read(ref produced), 300));
                await Task.Delay(50);
            }
        });

        var options = new IngestOptions
        {
            Region = "a",
            Kafka = { BootstrapServers = _stack.KafkaBootstrap, Group = topic, Topics = [topic], Properties = { ["session.timeout.ms"] = "6000" } },
            ClickHouse = { Endpoints = [Node.HttpEndpoint.ToString()], Table = table },
            Batching = { MaxAge = TimeSpan.FromMilliseconds(150), MaxRows = 1500 },
        };
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
                output.WriteLine($"step {step}: {workers.Count} workers, {await CountAsync($"SELECT count() FROM {table}")} rows, {Interlocked.Read(ref produced)} produced");
            }
            await stopProducing.CancelAsync();
            await producer;
            var total = Interlocked.Read(ref produced);
            await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= total || workers.Any(w => !w.IsRunning), TimeSpan.FromSeconds(90));
            await Task.Delay(1000); // past a batch age: a late duplicate would show now

            Assert.Equal(12, changes);
            Assert.Equal(total, await CountAsync($"SELECT count() FROM {table}"));
            Assert.Equal(total, await CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
            Assert.Equal(total * (total - 1) / 2, await CountAsync($"SELECT sum(seq) FROM {table}"));
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

    private async Task<long> CountAsync(string sql) =>
        long.Parse(await Node.Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);
}

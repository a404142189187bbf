using System.Globalization;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Net;
using Ingest.Pipeline;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>ClickHouse faults under load (18.16, ReplicatedMergeTree): connections cut in the middle of INSERTs and
/// checkpoint writes, the server SIGKILLed and restarted. Every message must end up as exactly one row.</summary>
public sealed class FaultTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task Connections_cut_mid_insert_and_a_killed_and_restarted_server_lose_and_duplicate_nothing()
    {
        const int partitions = 4;
        var random = new Random(Environment.TickCount);
        var topic = StackFixture.NewTopic("cut");
        _stack.Kafka!.CreateTopic(topic, partitions);
        var table = $"default.cut_{Guid.NewGuid():N}"[..30];
        await Node.Client.ExecuteAsync(
            $"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}') ORDER BY (_partition, _offset)");
        await using var proxy = new TcpProxy(Node.HttpPort);

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
            ClickHouse = { Endpoints = [proxy.HttpEndpoint.ToString()], Table = table, RequestTimeout = TimeSpan.FromSeconds(10) },
            Batching = { MaxAge = TimeSpan.FromMilliseconds(100), MaxRows = 2000 },
        };
        using var pipeline = new InProcessPipeline(options);

        // 1. Cut every open connection at random moments for 8 s: request bodies half sent, answers never read.
        var until = DateTime.UtcNow.AddSeconds(8);
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(random.Next(20, 300));
            proxy.CutAll();
        }
        var afterCuts = await CountAsync($"SELECT count() FROM {table}");
        output.WriteLine($"{proxy.Cuts} connections cut; {afterCuts} rows, {Interlocked.Read(ref produced)} produced");

        // 2. SIGKILL the server mid-stream, restart it on the same data 2 s later.
        Node.Kill();
        await Task.Delay(2000);
        await Node.StartAsync();
        await Task.Delay(2000);

        await stopProducing.CancelAsync();
        await producer;
        var total = Interlocked.Read(ref produced);
        await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= total || !pipeline.IsRunning, TimeSpan.FromSeconds(90));
        await Task.Delay(1000); // past a batch age: a late duplicate would show now
        pipeline.Stop();
        output.WriteLine($"{total} produced; insert failures (retried): {pipeline.Metrics.InsertFailures}");

        Assert.True(proxy.Cuts >= 10, $"only {proxy.Cuts} connections were cut");
        Assert.True(pipeline.Metrics.InsertFailures >= 10, $"only {pipeline.Metrics.InsertFailures} failed attempts");
        Assert.Equal(total, await CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(total, await CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
        Assert.Equal(total * (total - 1) / 2, await CountAsync($"SELECT sum(seq) FROM {table}"));
    }

    [Fact]
    public async Task Kafka_unreachable_past_the_session_timeout_loses_partitions_and_nothing_is_lost_or_duplicated()
    {
        const int partitions = 4;
        var topic = StackFixture.NewTopic("lost");
        _stack.Kafka!.CreateTopic(topic, partitions);
        var table = $"default.lost_{Guid.NewGuid():N}"[..30];
        await Node.Client.ExecuteAsync(
            $"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}') ORDER BY (_partition, _offset)");
        Assert.Equal(20_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, 20_000));

        var options = new IngestOptions
        {
            Region = "a",
            Kafka = { BootstrapServers = _stack.KafkaBootstrap, Group = topic, Topics = [topic], Properties = { ["session.timeout.ms"] = "6000" } },
            ClickHouse = { Endpoints = [Node.HttpEndpoint.ToString()], Table = table },
            Batching = { MaxAge = TimeSpan.FromMilliseconds(100), MaxRows = 1000 },
        };
        using var pipeline = new InProcessPipeline(options);
        await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 5_000, TimeSpan.FromSeconds(60), everyMs: 20);

        // Mid-stream, every broker down for twice the session timeout: the consumer's session expires on its side and librdkafka
        // reports the assignment lost, not revoked.
        for (var b = 1; b <= _stack.Kafka.Brokers; b++) _stack.Kafka.SetBrokerDown(b);
        await Poll.UntilAsync(() => Task.FromResult(pipeline.Metrics.PartitionsLostTotal), n => n > 0, TimeSpan.FromSeconds(30));
        for (var b = 1; b <= _stack.Kafka.Brokers; b++) _stack.Kafka.SetBrokerUp(b);

        Assert.Equal(10_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 20_000, 10_000));
        await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 30_000 || !pipeline.IsRunning, TimeSpan.FromSeconds(90));
        await Task.Delay(1000);
        pipeline.Stop();
        output.WriteLine($"partitions lost: {pipeline.Metrics.PartitionsLostTotal}");

        Assert.Equal(30_000, await CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(30_000, await CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
    }

    private async Task<long> CountAsync(string sql) =>
        long.Parse(await Node.Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);
}

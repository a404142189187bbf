using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Net;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>Faults under load (18.16, ReplicatedMergeTree): connections to ClickHouse cut in the middle of INSERTs
/// and checkpoint writes, the server SIGKILLed and restarted, Kafka unreachable past the session timeout. Every
/// message must end up as exactly one row.</summary>
public sealed class FaultTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task Connections_cut_mid_insert_and_a_killed_and_restarted_server_lose_and_duplicate_nothing()
    {
        var random = new Random(Environment.TickCount);
        var topic = StackFixture.NewTopic("cut");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = await Load.CreateTableAsync(Node, "cut");
        await using var proxy = new TcpProxy(Node.HttpPort);
        await using var producer = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 300, tickMs: 50);

        var options = Load.Options(_stack.KafkaBootstrap, Node, topic, table, maxAgeMs: 100, maxRows: 2000);
        options.ClickHouse.Endpoints = [proxy.HttpEndpoint.ToString()];
        options.ClickHouse.RequestTimeout = TimeSpan.FromSeconds(10);
        using var pipeline = new InProcessPipeline(options);

        // 1. Cut every open connection at random moments for 8 s: request bodies half sent, answers never read.
        var until = DateTime.UtcNow.AddSeconds(8);
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(random.Next(20, 300));
            proxy.CutAll();
        }
        output.WriteLine($"{proxy.Cuts} connections cut; {await Node.CountAsync($"SELECT count() FROM {table}")} rows, {producer.Produced} produced");

        // 2. SIGKILL the server mid-stream, restart it on the same data 2 s later.
        Node.Kill();
        await Task.Delay(2000);
        await Node.StartAsync();
        await Task.Delay(2000);

        var total = await producer.StopAsync();
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= total || !pipeline.IsRunning, TimeSpan.FromSeconds(90));
        await Task.Delay(1000); // past a batch age: a late duplicate would show now
        pipeline.Stop();
        output.WriteLine($"{total} produced; insert failures (retried): {pipeline.Metrics.InsertFailures}");

        Assert.True(proxy.Cuts >= 10, $"only {proxy.Cuts} connections were cut");
        Assert.True(pipeline.Metrics.InsertFailures >= 10, $"only {pipeline.Metrics.InsertFailures} failed attempts");
        await AssertExactlyOnceAsync(table, total);
    }

    [Fact]
    public async Task Kafka_unreachable_past_the_session_timeout_loses_partitions_and_nothing_is_lost_or_duplicated()
    {
        var topic = StackFixture.NewTopic("lost");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = await Load.CreateTableAsync(Node, "lost");
        Assert.Equal(20_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, 20_000));

        using var pipeline = new InProcessPipeline(Load.Options(_stack.KafkaBootstrap, Node, topic, table, maxAgeMs: 100, maxRows: 1000));
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 5_000, TimeSpan.FromSeconds(60), everyMs: 20);

        // Mid-stream, every broker down for longer than the session timeout: the consumer's session expires on its
        // side and librdkafka reports the assignment lost, not revoked.
        for (var b = 1; b <= _stack.Kafka.Brokers; b++) _stack.Kafka.SetBrokerDown(b);
        await Poll.UntilAsync(() => Task.FromResult(pipeline.Metrics.PartitionsLostTotal), n => n > 0, TimeSpan.FromSeconds(30));
        for (var b = 1; b <= _stack.Kafka.Brokers; b++) _stack.Kafka.SetBrokerUp(b);

        Assert.Equal(10_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 20_000, 10_000));
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 30_000 || !pipeline.IsRunning, TimeSpan.FromSeconds(90));
        await Task.Delay(1000);
        pipeline.Stop();
        output.WriteLine($"partitions lost: {pipeline.Metrics.PartitionsLostTotal}");

        await AssertExactlyOnceAsync(table, 30_000);
    }

    private async Task AssertExactlyOnceAsync(string table, long total)
    {
        Assert.Equal(total, await Node.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(total, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
        Assert.Equal(total * (total - 1) / 2, await Node.CountAsync($"SELECT sum(seq) FROM {table}"));
    }
}

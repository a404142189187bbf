using Ingest.LocalStack.Kafka;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>A worker with two replicas of one subcluster as endpoints (two-subcluster topology: a1 in region a, b1 in
/// region b, both replicating subcluster a through Keeper a): the checkpoint table exists on both, and when a1 dies
/// the worker carries on against b1, exactly once.</summary>
public sealed class FailoverTests(TwoSubclusterStack fixture) : IClassFixture<TwoSubclusterStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task When_the_first_replica_dies_the_worker_continues_on_the_other_with_its_checkpoints()
    {
        var a1 = _stack.Node("a1");
        var b1 = _stack.Node("b1");
        var topic = StackFixture.NewTopic("failover");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = await Load.CreateTableAsync(a1, "failover");
        await Load.CreateNamedTableAsync(b1, table);
        Assert.Equal(10_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, 10_000));

        var options = Load.Options(_stack.KafkaBootstrap, a1, topic, table, maxAgeMs: 100, maxRows: 1000);
        options.ClickHouse.Endpoints = [a1.HttpEndpoint.ToString(), b1.HttpEndpoint.ToString()];
        options.ClickHouse.RequestTimeout = TimeSpan.FromSeconds(10);
        using var pipeline = new InProcessPipeline(options);
        await Poll.UntilAsync(() => a1.CountAsync($"SELECT count() FROM {table}"), n => n >= 10_000, TimeSpan.FromSeconds(60));

        // The checkpoint table was created on both replicas, and b1 holds a1's checkpoints by replication.
        await b1.Client.ExecuteAsync("SYSTEM SYNC REPLICA default.ingest_checkpoints");
        Assert.Equal(4, await b1.CountAsync($"SELECT uniqExact(partition) FROM default.ingest_checkpoints WHERE topic = '{topic}'"));

        a1.Kill();
        Assert.Equal(10_000, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 10_000, 10_000));
        await Poll.UntilAsync(() => b1.CountAsync($"SELECT count() FROM {table}"), n => n >= 20_000 || !pipeline.IsRunning, TimeSpan.FromSeconds(90));
        await Task.Delay(1000);
        pipeline.Stop();
        await a1.StartAsync();

        Assert.True(pipeline.Metrics.InsertFailures >= 1, "the dead replica should have failed at least once");
        Assert.Equal(20_000, await b1.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(20_000, await b1.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
    }
}

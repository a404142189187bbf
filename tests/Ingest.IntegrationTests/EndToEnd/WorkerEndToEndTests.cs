using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.Prometheus;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>The real worker process, consuming from the mock cluster into ClickHouse 18.16.</summary>
public sealed class WorkerEndToEndTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task N_produced_messages_land_as_exactly_N_rows_under_the_regional_group()
    {
        const int count = 50_000;
        var topic = StackFixture.NewTopic("e2e");
        var table = await CreateTableAsync("e2e");
        _stack.Kafka!.CreateTopic(topic, 8);

        await using var worker = await StartWorkerAsync(topic, table, region: "west");
        Assert.Equal(count, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, count));

        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= count, TimeSpan.FromSeconds(60));
        await Task.Delay(1200); // past one batch age: a duplicate batch would show now
        Assert.Equal(count, await CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(count, await CountAsync($"SELECT uniqExact(seq) FROM {table}"));
        Assert.Equal((long)count * (count - 1) / 2, await CountAsync($"SELECT sum(seq) FROM {table}"));
        Assert.Equal(count, rows);

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
        // Offsets were committed under "<group>.<region>" only after the rows landed: the group's committed
        // offsets add up to every message.
        Assert.Equal(count, CommittedTotal("e2e.west", topic, 8));
    }

    [Fact]
    public async Task A_malformed_message_is_skipped_with_a_clear_error_and_the_rest_land()
    {
        var topic = StackFixture.NewTopic("bad");
        var table = await CreateTableAsync("bad");
        _stack.Kafka!.CreateTopic(topic, 1);
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = _stack.KafkaBootstrap }).Build())
        {
            for (var i = 0; i < 10; i++)
            {
                var value = i == 4 ? Encoding.UTF8.GetBytes("{\"ts\": \"2026-01-01 00:00:00\", \"user_id\": 1,") : SampleEvents.Message(i);
                await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = value });
            }
        }

        await using var worker = await StartWorkerAsync(topic, table, region: "a");
        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 9, TimeSpan.FromSeconds(60));
        Assert.Equal(9, rows);
        Assert.Equal(0, await CountAsync($"SELECT countIf(seq = 4) FROM {table}"));
        var metrics = await worker.MetricsAsync();
        var rejected = Assert.Single(PrometheusText.Samples(metrics, "ingest_messages_rejected_total"));
        Assert.Equal(1, rejected.Value);
        Assert.Equal(topic, rejected.Labels["topic"]);
        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
        var log = await File.ReadAllTextAsync(worker.LogFile);
        Assert.Contains($"Skipping {topic}/0@4: malformed JSON", log, StringComparison.Ordinal);
    }

    private async Task<string> CreateTableAsync(string name)
    {
        var table = $"default.{name}_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync(
            $"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        return table;
    }

    private Task<WorkerProcess> StartWorkerAsync(string topic, string table, string region) =>
        WorkerProcess.StartAsync(Load.WorkerSettings(_stack.KafkaBootstrap, _stack.Node("ch"), topic, table, region, group: topic.Split('-')[0]),
            Path.Combine(_stack.Directory, $"worker-{topic}.log"));

    private async Task<long> CountAsync(string sql) =>
        long.Parse(await _stack.Node("ch").Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);

    private long CommittedTotal(string group, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _stack.KafkaBootstrap, GroupId = group }).Build();
        var committed = consumer.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10));
        return committed.Sum(c => c.Offset.Value < 0 ? 0 : c.Offset.Value);
    }
}

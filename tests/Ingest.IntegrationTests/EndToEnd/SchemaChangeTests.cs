using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>The target table changes while the pipeline runs (ClickHouse 18.16): new columns are picked up,
/// and an INSERT refused because a column changed type is decoded again from Kafka, losing nothing.</summary>
public sealed class SchemaChangeTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Ch => _stack.Node("ch");

    [Fact]
    public async Task A_column_added_to_the_table_is_filled_by_later_messages()
    {
        var (topic, table) = await NewTopicAndTableAsync("added", "");
        var options = Options(topic, table);
        options.ClickHouse.SchemaRefreshInterval = TimeSpan.FromMilliseconds(300);
        using var pipeline = new InProcessPipeline(options);

        await ProduceAsync(topic, 0, 100);
        await Poll.UntilAsync(() => Ch.CountAsync($"SELECT count() FROM {table}"), n => n >= 100, TimeSpan.FromSeconds(30));
        await Ch.Client.ExecuteAsync($"ALTER TABLE {table} ADD COLUMN country String");
        await Poll.UntilAsync(() => Task.FromResult(pipeline.Metrics.SchemaChanges), n => n >= 1, TimeSpan.FromSeconds(30));
        await ProduceAsync(topic, 100, 100);
        await Poll.UntilAsync(() => Ch.CountAsync($"SELECT count() FROM {table}"), n => n >= 200, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        Assert.Equal(200, await Ch.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(100, await Ch.CountAsync($"SELECT count() FROM {table} WHERE country = 'DE' AND seq >= 100"));
        Assert.Equal(0, await Ch.CountAsync($"SELECT count() FROM {table} WHERE country != '' AND seq < 100"));
        Assert.Equal(0, pipeline.Metrics.ExactlyOnce); // plain MergeTree on 18.16: at-least-once, and the worker says so
    }

    [Fact]
    public async Task A_batch_refused_because_a_column_changed_type_is_decoded_again_and_lands_once()
    {
        var (topic, table) = await NewTopicAndTableAsync("dropped", ", country String");
        var options = Options(topic, table);
        options.ClickHouse.SchemaRefreshInterval = TimeSpan.Zero; // only the refused INSERT can reveal the change
        using var pipeline = new InProcessPipeline(options);

        await ProduceAsync(topic, 0, 100);
        await Poll.UntilAsync(() => Ch.CountAsync($"SELECT count() FROM {table}"), n => n >= 100, TimeSpan.FromSeconds(30));
        Assert.Equal(100, await Ch.CountAsync($"SELECT count() FROM {table} WHERE country = 'DE'"));
        await Ch.Client.ExecuteAsync($"ALTER TABLE {table} DROP COLUMN country, MODIFY COLUMN user_id Int64");
        await ProduceAsync(topic, 100, 300);
        await Poll.UntilAsync(() => Ch.CountAsync($"SELECT count() FROM {table}"), n => n >= 400 || !pipeline.IsRunning, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        Assert.Equal(400, await Ch.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(400, await Ch.CountAsync($"SELECT uniqExact(seq) FROM {table}"));
        Assert.Equal(0, pipeline.Metrics.MessagesRejected);
        Assert.Equal(1, pipeline.Metrics.SchemaChanges);
        Assert.True(pipeline.Metrics.InsertFailures >= 1, "the INSERT with the old user_id type should have been refused first");
    }

    private IngestOptions Options(string topic, string table) => Load.Options(_stack.KafkaBootstrap, Ch, topic, table, maxAgeMs: 100);

    private async Task<(string Topic, string Table)> NewTopicAndTableAsync(string name, string extraColumns)
    {
        var topic = StackFixture.NewTopic(name);
        _stack.Kafka!.CreateTopic(topic, 2);
        return (topic, await Load.CreateTableAsync(Ch, name, extraColumns, "MergeTree ORDER BY seq"));
    }

    /// <summary>Sample events <paramref name="first"/>.. with a "country" field the table may or may not have.</summary>
    private async Task ProduceAsync(string topic, int first, int count)
    {
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = _stack.KafkaBootstrap, LingerMs = 5 }).Build();
        for (var i = first; i < first + count; i++)
        {
            var json = Encoding.UTF8.GetString(SampleEvents.Message(i));
            producer.Produce(topic, new Message<Null, byte[]> { Value = Encoding.UTF8.GetBytes(json[..^1] + ",\"country\":\"DE\"}") });
        }
        producer.Flush(TimeSpan.FromSeconds(30));
        await Task.CompletedTask;
    }
}

using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>The Native hot path against ClickHouse 18.16: bad input, compression, endpoint failover, backpressure,
/// nested mapping and server-side defaults.</summary>
public sealed class HotPathTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Wrong_types_and_overflowing_numbers_are_rejected_per_message_and_the_rest_land()
    {
        var (topic, table) = await NewTopicAndTableAsync("types", 1);
        string[] bad =
        [
            """{"ts":"2026-01-01 00:00:00","user_id":"abc","event":"x","value":1,"tags":[],"seq":1000}""",
            """{"ts":"2026-01-01 00:00:00","user_id":-5,"event":"x","value":1,"tags":[],"seq":1001}""",
            """{"ts":"2026-01-01 00:00:00","user_id":99999999999999999999,"event":"x","value":1,"tags":[],"seq":1002}""",
            """{"ts":"not a time","user_id":1,"event":"x","value":1,"tags":[],"seq":1003}""",
            """{"ts":"2026-01-01 00:00:00","user_id":1,"event":"x","value":1,"tags":"nope","seq":1004}""",
            """{"ts":"2026-01-01 00:00:00","user_id":1,"event":"x","value":1,"tags":[],"seq":1005""",
        ];
        await ProduceAsync(topic, Enumerable.Range(0, 40).Select(i => i % 7 == 3 && i / 7 < bad.Length ? Encoding.UTF8.GetBytes(bad[i / 7]) : SampleEvents.Message(i)));

        using var pipeline = new InProcessPipeline(Options(topic, table));
        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 40 - bad.Length, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        Assert.Equal(40 - bad.Length, rows);
        Assert.Equal(bad.Length, pipeline.Metrics.MessagesRejected);
        Assert.Equal(0, await CountAsync($"SELECT count() FROM {table} WHERE seq >= 1000"));
        Assert.Equal(Enumerable.Range(0, 40).Where(i => !(i % 7 == 3 && i / 7 < bad.Length)).Sum(i => (long)i), await CountAsync($"SELECT sum(seq) FROM {table}"));
    }

    [Fact]
    public async Task Gzip_bodies_and_a_dead_first_endpoint_still_land_every_row()
    {
        var (topic, table) = await NewTopicAndTableAsync("gzip", 4);
        await ProduceAsync(topic, Enumerable.Range(0, 5000).Select(i => SampleEvents.Message(i)));
        var options = Options(topic, table);
        options.ClickHouse.Compression = InsertCompression.Gzip;
        options.ClickHouse.Endpoints = [$"http://127.0.0.1:{LocalStack.Processes.FreePorts.Next()}/", _stack.Node("ch").HttpEndpoint.ToString()];

        using var pipeline = new InProcessPipeline(options);
        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 5000, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        Assert.Equal(5000, rows);
        Assert.Equal(5000, await CountAsync($"SELECT uniqExact(seq) FROM {table}"));
        Assert.True(pipeline.Metrics.InsertFailures >= 1, "the dead endpoint should have failed at least once");
    }

    [Fact]
    public async Task A_frozen_server_pauses_consumption_and_nothing_is_lost_when_it_thaws()
    {
        var (topic, table) = await NewTopicAndTableAsync("pressure", 4);
        var options = Options(topic, table);
        options.Batching.MaxBytes = 16 * 1024;
        options.Batching.MaxInFlightBytes = 64 * 1024;
        options.Batching.MaxAge = TimeSpan.FromMilliseconds(100);
        using var pipeline = new InProcessPipeline(options);
        await ProduceAsync(topic, Enumerable.Range(0, 100).Select(i => SampleEvents.Message(i)));
        Assert.Equal(100, await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 100, TimeSpan.FromSeconds(30)));

        var ch = _stack.Node("ch");
        ch.Freeze();
        try
        {
            await ProduceAsync(topic, Enumerable.Range(100, 20_000).Select(i => SampleEvents.Message(i)));
            var paused = await Poll.UntilAsync(() => Task.FromResult(pipeline.Metrics.Pauses), n => n > 0, TimeSpan.FromSeconds(20));
            Assert.True(paused > 0, "consumption never paused while ClickHouse was frozen");
            // Paused: consumption stops well short of the backlog instead of buffering it all.
            var consumedWhilePaused = pipeline.Metrics.MessagesConsumed;
            await Task.Delay(1000);
            Assert.True(pipeline.Metrics.MessagesConsumed - consumedWhilePaused < 2000,
                $"kept consuming while paused: {consumedWhilePaused} → {pipeline.Metrics.MessagesConsumed}");
        }
        finally
        {
            ch.Thaw();
        }

        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 20_100, TimeSpan.FromSeconds(60));
        pipeline.Stop();
        Assert.Equal(20_100, rows);
        Assert.Equal(20_100, await CountAsync($"SELECT uniqExact(seq) FROM {table}"));
    }

    [Fact]
    public async Task Nested_paths_nullable_columns_and_server_defaults_are_filled()
    {
        var topic = StackFixture.NewTopic("nested");
        _stack.Kafka!.CreateTopic(topic, 1);
        var table = $"default.nested_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync(
            $"CREATE TABLE {table} (id UInt64, country Nullable(String), score Nullable(Float64), " +
            "labels Array(Nullable(String)), kind Enum8('a' = 1, 'b' = 2), price Decimal(18, 4), " +
            "source String DEFAULT concat('kafka-', toString(id)), day Date MATERIALIZED today()) ENGINE = MergeTree ORDER BY id");
        await ProduceAsync(topic,
        [
            Encoding.UTF8.GetBytes("""{"id":1,"geo":{"country":"DE"},"score":1.5,"labels":["x",null],"kind":"b","price":"12.3456"}"""),
            Encoding.UTF8.GetBytes("""{"id":2,"geo":{},"labels":[],"kind":1,"price":0.5,"ignored":{"deep":[1,2,3]}}"""),
            Encoding.UTF8.GetBytes("""{"id":3,"geo":null,"score":null,"kind":"a","price":-1}"""),
        ]);
        var options = Options(topic, table);
        options.Mapping.Columns["country"] = "geo.country";

        using var pipeline = new InProcessPipeline(options);
        await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 3, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        var rows = await _stack.Node("ch").Client.QueryAsync($"SELECT id, country, score, labels, kind, toInt64(price * 10000), source FROM {table} ORDER BY id FORMAT TSV");
        Assert.Equal(
            "1\tDE\t1.5\t['x',NULL]\tb\t123456\tkafka-1\n" +
            "2\t\\N\t\\N\t[]\ta\t5000\tkafka-2\n" +
            "3\t\\N\t\\N\t[]\ta\t-10000\tkafka-3\n", rows);
    }

    private IngestOptions Options(string topic, string table) => new()
    {
        Region = "a",
        Kafka =
        {
            BootstrapServers = _stack.KafkaBootstrap,
            Group = topic,
            Topics = [topic],
            Properties = { ["session.timeout.ms"] = "6000" },
        },
        ClickHouse = { Endpoints = [_stack.Node("ch").HttpEndpoint.ToString()], Table = table },
        Batching = { MaxAge = TimeSpan.FromMilliseconds(200) },
    };

    private async Task<(string Topic, string Table)> NewTopicAndTableAsync(string name, int partitions)
    {
        var topic = StackFixture.NewTopic(name);
        _stack.Kafka!.CreateTopic(topic, partitions);
        var table = $"default.{name}_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        return (topic, table);
    }

    private async Task ProduceAsync(string topic, IEnumerable<byte[]> messages)
    {
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = _stack.KafkaBootstrap, LingerMs = 5 }).Build();
        foreach (var m in messages) producer.Produce(topic, new Message<Null, byte[]> { Value = m });
        producer.Flush(TimeSpan.FromSeconds(30));
        await Task.CompletedTask;
    }

    private async Task<long> CountAsync(string sql) =>
        long.Parse(await _stack.Node("ch").Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);
}

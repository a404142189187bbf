using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>Offsets checkpointed in ClickHouse (18.16, ReplicatedMergeTree with ZooKeeper): where partitions
/// resume, and how a pending range is replayed. Counts are checked by distinct (partition, offset) and total rows.</summary>
public sealed class CheckpointTests(IndependentStack fixture) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private LocalStack.ClickHouse.ClickHouseServer Node => _stack.Node("a1");

    [Fact]
    public async Task A_clean_restart_resumes_at_the_exact_offset_and_ClickHouse_wins_over_Kafka_when_they_disagree()
    {
        var (topic, table) = await NewTopicAndTableAsync("resume", 3);
        Produce(topic, 3, 0, 100);
        var options = Options(topic, table);
        using (var run = new InProcessPipeline(options))
        {
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 300, TimeSpan.FromSeconds(60));
            run.Stop();
            Assert.Equal(1, run.Metrics.ExactlyOnce);
            Assert.Equal(0, run.Metrics.Replays);
        }
        Assert.Equal("0\t99\tcommitted\n1\t99\tcommitted\n2\t99\tcommitted\n", await Node.Client.QueryAsync(
            $"SELECT partition, argMax(last_offset, version), argMax(state, version) FROM default.ingest_checkpoints WHERE topic = '{topic}' GROUP BY partition ORDER BY partition FORMAT TSV"));
        Assert.Equal([100, 100, 100], Committed(topic, 3));

        // Partition 0: Kafka's committed offset falls behind ClickHouse's checkpoint (a commit lost in a crash).
        await CommitInKafkaAsync(topic, 0, 50);
        Assert.Equal([50, 100, 100], Committed(topic, 3));
        // Partition 1: ClickHouse's checkpoint is behind Kafka's committed offset, as after restoring a backup taken
        // at offset 79: the rows after it are gone from the table and must come back from Kafka.
        await Node.Client.ExecuteAsync($"ALTER TABLE {table} DELETE WHERE _partition = 1 AND _offset >= 80");
        await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n == 280, TimeSpan.FromSeconds(30));
        await Node.Client.ExecuteAsync(
            $"INSERT INTO default.ingest_checkpoints SELECT consumer_group, target_table, topic, partition, 0, 79, 'committed', 80, 'restore', now(), version + 1, '' " +
            $"FROM default.ingest_checkpoints WHERE topic = '{topic}' AND partition = 1 ORDER BY version DESC LIMIT 1");

        Produce(topic, 3, 100, 50);
        using (var run = new InProcessPipeline(options))
        {
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 450, TimeSpan.FromSeconds(60));
            await Task.Delay(1000); // past a batch age: a replayed duplicate would show now
            run.Stop();
        }
        Assert.Equal("0\t150\t150\t0\t149\n1\t150\t150\t0\t149\n2\t150\t150\t0\t149\n", await Node.Client.QueryAsync(
            $"SELECT _partition, count(), uniqExact(_offset), min(_offset), max(_offset) FROM {table} GROUP BY _partition ORDER BY _partition FORMAT TSV"));
        Assert.Equal([150, 150, 150], Committed(topic, 3));
        // The other provenance columns: the topic, and the message timestamps (fetched because the table has them).
        Assert.Equal(450, await Node.CountAsync($"SELECT count() FROM {table} WHERE _topic = '{topic}' AND _timestamp > now() - 3600 AND _timestamp <= now()"));
    }

    [Fact]
    public async Task A_pending_range_whose_rows_landed_is_replayed_identically_and_deduplicated()
    {
        var (topic, table) = await NewTopicAndTableAsync("pending", 3);
        Produce(topic, 3, 0, 200);
        var options = Options(topic, table);
        // An operator's squashing setting must not win over the replay identity's pinned one (a replay would be cut
        // into other blocks than the first INSERT if it changed in between).
        options.ClickHouse.Settings["min_insert_block_size_rows"] = "1";
        using (var run = new InProcessPipeline(options))
        {
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 600, TimeSpan.FromSeconds(60));
            run.Stop();
        }
        // A crash after the INSERTs were acknowledged but before "committed" was written: the newest checkpoint of
        // every partition goes back to pending for its last range, with the group it went out in.
        await Node.Client.ExecuteAsync(
            "INSERT INTO default.ingest_checkpoints SELECT consumer_group, target_table, topic, partition, " +
            "argMax(first_offset, version), argMax(last_offset, version), 'pending', argMax(rows, version), 'crashed', now(), max(version) + 1, argMaxIf(members, version, state = 'pending') " +
            $"FROM default.ingest_checkpoints WHERE topic = '{topic}' GROUP BY consumer_group, target_table, topic, partition");
        Produce(topic, 3, 200, 10);
        using (var run = new InProcessPipeline(options))
        {
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM {table}"), n => n >= 630, TimeSpan.FromSeconds(60));
            await Poll.UntilAsync(() => Node.CountAsync($"SELECT count() FROM (SELECT partition, argMax(state, version) AS s FROM default.ingest_checkpoints WHERE topic = '{topic}' GROUP BY partition) WHERE s = 'committed'"),
                n => n == 3, TimeSpan.FromSeconds(30));
            await Task.Delay(500);
            run.Stop();
            Assert.InRange(run.Metrics.Replays, 1, 3);
            Assert.True(run.Metrics.RowsInserted >= 30 + 3, $"the pending ranges should have been inserted again (rows inserted: {run.Metrics.RowsInserted})");
        }
        Assert.Equal(630, await Node.CountAsync($"SELECT count() FROM {table}"));
        Assert.Equal(630, await Node.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
    }

    private IngestOptions Options(string topic, string table) => Load.Options(_stack.KafkaBootstrap, Node, topic, table);

    private async Task<(string Topic, string Table)> NewTopicAndTableAsync(string name, int partitions)
    {
        var topic = StackFixture.NewTopic(name);
        _stack.Kafka!.CreateTopic(topic, partitions);
        return (topic, await Load.CreateTableAsync(Node, name, ", _topic String, _timestamp DateTime"));
    }

    /// <summary><paramref name="perPartition"/> sample events into every partition, seq = partition * 1,000,000 + i.</summary>
    private void Produce(string topic, int partitions, int first, int perPartition)
    {
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = _stack.KafkaBootstrap, LingerMs = 5 }).Build();
        for (var p = 0; p < partitions; p++)
        {
            for (var i = first; i < first + perPartition; i++)
                producer.Produce(new TopicPartition(topic, p), new Message<Null, byte[]> { Value = SampleEvents.Message(p * 1_000_000L + i) });
        }
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private long[] Committed(string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _stack.KafkaBootstrap, GroupId = topic + ".a" }).Build();
        return [.. consumer.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10)).OrderBy(c => c.Partition.Value).Select(c => c.Offset.Value)];
    }

    /// <summary>Commits as a member of the group (the mock refuses commits from outside a group generation).</summary>
    private Task CommitInKafkaAsync(string topic, int partition, long offset)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = _stack.KafkaBootstrap, GroupId = topic + ".a", SessionTimeoutMs = 6000, EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (consumer.Assignment.Count == 0 && DateTime.UtcNow < deadline) consumer.Consume(100);
        consumer.Commit([new TopicPartitionOffset(topic, partition, offset)]);
        consumer.Close();
        return Task.CompletedTask;
    }
}

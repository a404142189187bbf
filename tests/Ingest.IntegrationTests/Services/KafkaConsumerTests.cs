using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.IntegrationTests.Services;

/// <summary>The worker's consumer holds a batch of messages taken from librdkafka's queue: a pause or a seek in the
/// middle of that batch must neither lose the rest nor hand out messages from before the seek.</summary>
public sealed class KafkaConsumerTests : IDisposable
{
    private readonly MockKafkaCluster _kafka = MockKafkaCluster.Start(1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public void A_pause_or_a_seek_in_the_middle_of_a_batch_hands_out_every_message_once_in_order()
    {
        const string topic = "held";
        _kafka.CreateTopic(topic, 1);
        const int count = 5000;
        Assert.Equal(count, SampleEvents.Produce(_kafka.BootstrapServers, topic, 0, count));
        var options = new IngestOptions { Region = "a" };
        options.Kafka.BootstrapServers = _kafka.BootstrapServers;
        options.Kafka.Group = "g-held";
        options.Kafka.Topics = [topic];
        options.Kafka.Properties["session.timeout.ms"] = "6000";
        using var consumer = new KafkaConsumer(ConsumerSettings.Build(options), NullLogger.Instance, new IngestMetrics(), timestamps: false);
        consumer.Subscribe([topic], new FromCommitted());
        var p = new TopicPartition(topic, 0);
        var offsets = new List<long>();

        Take(consumer, offsets, 1);
        // librdkafka fetches ahead meanwhile: the next batch holds far more than the 99 messages taken from it.
        Thread.Sleep(1000);
        Take(consumer, offsets, 99);
        consumer.Pause([p]);
        for (var i = 0; i < 5; i++) Assert.Null(consumer.Consume(100));
        consumer.Resume([p]);
        Take(consumer, offsets, 100);
        consumer.Seek(new TopicPartitionOffset(p, 150));
        Take(consumer, offsets, count - 150);
        consumer.Close();

        Assert.Equal([.. Enumerable.Range(0, 200).Select(i => (long)i), .. Enumerable.Range(150, count - 150).Select(i => (long)i)], offsets);
    }

    private static void Take(KafkaConsumer consumer, List<long> offsets, int n)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (var taken = 0; taken < n;)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {offsets.Count} messages after 30 s");
            if (consumer.Consume(200) is not { } m) continue;
            Assert.False(consumer.Value.IsEmpty);
            offsets.Add(m.Offset);
            taken++;
        }
    }

    private sealed class FromCommitted : IRebalanceListener
    {
        public IReadOnlyList<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartition> partitions) =>
            [.. partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset))];

        public void OnRevoked(IReadOnlyList<TopicPartition> partitions)
        {
        }

        public void OnLost(IReadOnlyList<TopicPartition> partitions)
        {
        }
    }
}

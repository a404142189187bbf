using Confluent.Kafka;

namespace Ingest.Pipeline.Kafka;

/// <summary>A message the consumer returned; its value is <see cref="IPartitionConsumer.Value"/> until the next call.</summary>
internal readonly record struct ConsumedMessage(TopicPartition Partition, long Offset, long TimestampMs);

/// <summary>Called on the pipeline thread, inside <see cref="IPartitionConsumer.Consume"/>, when the group moves partitions.</summary>
internal interface IRebalanceListener
{
    /// <summary>Answers where each partition starts (<see cref="Offset.Unset"/>: Kafka's committed offset, or the earliest).</summary>
    IReadOnlyList<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartition> partitions);

    /// <summary>A clean hand-over: flush what is held for them before returning.</summary>
    void OnRevoked(IReadOnlyList<TopicPartition> partitions);

    /// <summary>Taken away without a revoke (session expired): another member may own them already.</summary>
    void OnLost(IReadOnlyList<TopicPartition> partitions);
}

/// <summary>The group consumer as the pipeline uses it: a seam, so the pipeline's state machine runs in unit tests
/// against a fake, and against librdkafka (<see cref="KafkaConsumer"/>) everywhere else.</summary>
internal interface IPartitionConsumer : IDisposable
{
    void Subscribe(IReadOnlyList<string> topics, IRebalanceListener listener);

    /// <summary>The next message, or null when none arrived within <paramref name="timeoutMs"/>.</summary>
    ConsumedMessage? Consume(int timeoutMs);

    /// <summary>The value of the message <see cref="Consume"/> returned last.</summary>
    ReadOnlySpan<byte> Value { get; }

    void Pause(IReadOnlyList<TopicPartition> partitions);

    void Resume(IReadOnlyList<TopicPartition> partitions);

    /// <summary>Where the partition is fetched from next (also while paused).</summary>
    void Seek(TopicPartitionOffset position);

    void Commit(IReadOnlyList<TopicPartitionOffset> offsets);

    /// <summary>The broker's high watermark as last seen in a fetch (no request); null while unknown.</summary>
    long? HighWatermark(TopicPartition partition);

    /// <summary>Leaves the group (revoking first, so the partitions move at once).</summary>
    void Close();
}

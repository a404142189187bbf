using Confluent.Kafka;

namespace Ingest.Pipeline.Kafka;

internal static class ConsumerSettings
{
    /// <summary>Each region consumes the same topics under its own group, so each region's target gets every
    /// message ("dual ingest", seed 000 at 44:55).</summary>
    public static string GroupId(IngestOptions options) => $"{options.Kafka.Group}.{options.Region}";

    /// <summary>group.instance.id, with "{host}" replaced by this host's name; null for dynamic membership.</summary>
    public static string? InstanceId(IngestOptions options) =>
        string.IsNullOrWhiteSpace(options.Kafka.InstanceId) ? null : options.Kafka.InstanceId.Replace("{host}", Environment.MachineName, StringComparison.Ordinal);

    public static ConsumerConfig Build(IngestOptions options, bool timestamps = false)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = options.Kafka.BootstrapServers,
            GroupId = GroupId(options),
            ClientId = $"ingest-{options.Region}-{Environment.MachineName}",
            // Offsets are committed only after ClickHouse acknowledged the rows holding them.
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,
            // Measured (notes: consumer ceiling): with defaults the group consumer stalls ~1 s whenever >100k
            // messages are queued (0.2M msg/s); these three give 2.0-2.2M msg/s on a backlog.
            FetchQueueBackoffMs = 10,
            QueuedMinMessages = 1_000_000,
            FetchWaitMaxMs = 10,
            // queued.min.messages and queued.max.messages.kbytes bound each partition's prefetch queue, not the total:
            // with only the count bound a backlog is prefetched whole (RSS 470 MB for 2.5M messages over 80
            // partitions). 1 MiB per partition held RSS at ~200 MB and drained as fast (337k rows/s); 256 KiB starved
            // the fetchers (274k) (docs/performance.md).
            QueuedMaxMessagesKbytes = 1024,
            // Only the topic name is needed per message (and the timestamp when the table has a column for it);
            // headers and timestamps cost ~+100 B/msg (notes).
            ConsumeResultFields = timestamps ? "topic,timestamp" : "topic",
        };
        if (InstanceId(options) is { } instance) config.GroupInstanceId = instance;
        foreach (var (k, v) in options.Kafka.Properties) config.Set(k, v);
        return config;
    }
}

namespace Ingest.Pipeline.Control;

/// <summary>Which partitions a command applies to: all of them, one topic, or some partitions of one topic.
/// Kept by the pipeline as a rule for pauses, so a partition assigned later (a rebalance) is paused too.</summary>
public sealed record PartitionSelector(string? Topic = null, IReadOnlyList<int>? Partitions = null)
{
    public static readonly PartitionSelector All = new();

    internal static PartitionSelector Of(Confluent.Kafka.TopicPartition p) => new(p.Topic, [p.Partition.Value]);

    public bool Matches(string topic, int partition) =>
        (Topic is null || Topic == topic) && (Partitions is null || Partitions.Count == 0 || Partitions.Contains(partition));

    /// <summary>Null when valid, else what is wrong (partitions need a topic; no negative partition).</summary>
    public string? Problem() =>
        Partitions is { Count: > 0 } && Topic is null ? "partitions need a topic"
        : Partitions?.Any(p => p < 0) == true ? "partitions must be >= 0"
        : null;

    public override string ToString() =>
        Topic is null ? "all partitions" : Partitions is null || Partitions.Count == 0 ? $"topic {Topic}" : $"{Topic}[{string.Join(",", Partitions)}]";
}

using System.Globalization;

namespace Ingest.Pipeline.Backup;

/// <summary>What the restored data of one partition holds (from the provenance columns): rows, distinct offsets, the
/// lowest offset and the next after the highest.</summary>
internal readonly record struct DataExtent(long Rows, long DistinctOffsets, long MinOffset, long Next)
{
    /// <summary>Rows that repeat a (partition, offset) another row has.</summary>
    public long Duplicates => Rows - DistinctOffsets;

    /// <summary>Offsets between the lowest and the highest that no row has (0 when the data is one unbroken run).</summary>
    public long Gaps => Next - MinOffset - DistinctOffsets;
}

/// <summary>One partition of a restore: what the backup point, the restored checkpoint, the restored data and Kafka
/// say, where replay starts (<see cref="Resume"/>, the next offset to consume), and what stands in the way
/// (<see cref="Problem"/>: the restore is refused while any partition has one).</summary>
internal sealed record RestorePartition(
    string Topic,
    int Partition,
    string Table,
    long? Point,
    long? Checkpoint,
    DataExtent? Data,
    long? KafkaEarliest,
    long? Resume,
    string? Problem)
{
    public string Name => $"{Topic}[{Partition}]";

    /// <summary>What replay will do for this partition, compared with the restored checkpoint.</summary>
    public string Action => (Resume, Checkpoint) switch
    {
        (null, _) => "left as it is",
        ({ } r, { } c) when c > r => $"replay {F(r)}..{F(c - 1)} ({F(c - r)} messages the checkpoint had and the data lacks)",
        ({ } r, { } c) when c < r => $"skip {F(c)}..{F(r - 1)} (in the data, after the checkpoint)",
        ({ } r, _) => $"resume at {F(r)}",
    };

    private static string F(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Where each partition of a region replays from after a restore, and why; refused when any partition has a
/// problem.</summary>
internal sealed record RestorePlan(string Region, string Group, BackupPoint? Point, IReadOnlyList<RestorePartition> Partitions)
{
    public IReadOnlyList<RestorePartition> Problems => [.. Partitions.Where(p => p.Problem is not null)];

    /// <summary>The next offset to consume per partition that has one.</summary>
    public IReadOnlyDictionary<Confluent.Kafka.TopicPartition, long> Offsets =>
        Partitions.Where(p => p.Resume is not null).ToDictionary(p => new Confluent.Kafka.TopicPartition(p.Topic, p.Partition), p => p.Resume!.Value);
}

/// <summary>A restore Ingest will not replay, with every reason (per partition, or for the whole restore).</summary>
internal sealed class RestoreRefusedException(string message, RestorePlan? plan = null, Exception? inner = null) : InvalidOperationException(message, inner)
{
    public RestorePlan? Plan { get; } = plan;
}

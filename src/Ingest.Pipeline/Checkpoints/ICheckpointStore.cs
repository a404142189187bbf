using Confluent.Kafka;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>Where checkpoints are kept: a seam, so the ledger runs in unit tests against memory, and against the
/// ClickHouse table (<see cref="CheckpointStore"/>) everywhere else.</summary>
internal interface ICheckpointStore
{
    /// <summary>"database.table".</summary>
    string Table { get; }

    /// <summary>The newest checkpoint of each of <paramref name="partitions"/> that has one.</summary>
    Task<Dictionary<TopicPartition, Checkpoint>> LoadAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct);

    Task WriteAsync(IReadOnlyList<CheckpointRow> rows, CancellationToken stopping);
}

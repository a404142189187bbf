namespace Ingest.Pipeline.Control;

/// <summary>How other threads (admin API, health, backup points) act on a running pipeline: each call becomes a command
/// the pipeline thread runs between two polls of the consumer, and completes when it has been applied.</summary>
public interface IPipelineControl
{
    /// <summary>The latest snapshot; never null, cheap (a volatile read).</summary>
    PipelineStatus Status { get; }

    /// <summary>Adds <paramref name="reason"/> to the selected partitions (kept as a rule for partitions assigned later).</summary>
    Task<PauseResult> PauseAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct);

    /// <summary>Removes <paramref name="reason"/> from the selected partitions (and the matching rules); other reasons stay.</summary>
    Task<PauseResult> ResumeAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct);

    /// <summary>Completes once everything consumed so far from the selected partitions is in ClickHouse and checkpointed;
    /// answers each partition's committed position.</summary>
    Task<FlushResult> FlushAsync(PartitionSelector selector, CancellationToken ct);
}

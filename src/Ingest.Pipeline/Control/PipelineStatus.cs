using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>What the pipeline is doing, published by its thread as an immutable snapshot (swapped in by reference) for
/// health checks, metrics and the admin API. Also the wire format of <c>GET /status</c>.</summary>
public sealed record PipelineStatus(
    string Region,
    string Group,
    [property: JsonConverter(typeof(JsonStringEnumConverter<PipelineState>))] PipelineState State,
    string? Fault,
    DateTimeOffset At,
    IReadOnlyList<RouteStatus> Routes,
    IReadOnlyList<PartitionStatus> Partitions,
    IReadOnlyList<TargetStatus> Targets,
    IReadOnlyList<PauseRule> PauseRules)
{
    public static PipelineStatus Starting(string region, string group) =>
        new(region, group, PipelineState.Starting, null, DateTimeOffset.UtcNow, [], [], [], []);

    /// <summary>Ready: consuming, with partitions assigned.</summary>
    [JsonIgnore]
    public bool IsReady => State == PipelineState.Running;
}

public enum PipelineState
{
    /// <summary>Reading the targets' schemas, creating checkpoint tables, joining the group.</summary>
    Starting,

    /// <summary>In the consumer group, waiting for partitions (none assigned).</summary>
    Waiting,

    /// <summary>Consuming, with partitions assigned.</summary>
    Running,
    Stopping,
    Stopped,

    /// <summary>Stopped by an error; <see cref="PipelineStatus.Fault"/> says which.</summary>
    Failed,
}

/// <summary>One route: topics into one table. <see cref="Error"/> is set while the route is paused by a failure of its table.</summary>
public sealed record RouteStatus(string Name, IReadOnlyList<string> Topics, string Table, string Target, string? Error);

/// <summary>One assigned partition. Offsets are Kafka offsets of the next message: <see cref="Position"/> the next to
/// consume, <see cref="Committed"/> the next after what ClickHouse acknowledged and the checkpoint holds;
/// <see cref="HighWatermark"/> the next the broker will write; <see cref="Lag"/> = high watermark − committed.
/// Two-subcluster targets: <see cref="Owner"/> is the region that writes the partition at <see cref="Epoch"/>;
/// <see cref="Holding"/> writing, following, releasing or waiting; while another region owns it,
/// <see cref="OwnerNext"/> is the owner's checkpoint (next offset) as replicated here, and
/// <see cref="CrossRegionLag"/> = high watermark − that: what a takeover would replay.</summary>
public sealed record PartitionStatus(
    string Topic,
    int Partition,
    string Route,
    string Table,
    long? Position,
    long? Committed,
    long? HighWatermark,
    long? Lag,
    IReadOnlyList<string> PausedBy,
    int InFlightBatches,
    long InFlightRows,
    long InFlightBytes,
    string? Owner = null,
    uint? Epoch = null,
    string? Holding = null,
    long? OwnerNext = null,
    long? CrossRegionLag = null);

/// <summary>A ClickHouse target: its endpoints and what the last request to each found.
/// <see cref="Quorum"/>: the insert_quorum in use on a two-subcluster target (2, or 0 while degraded).</summary>
public sealed record TargetStatus(string Name, IReadOnlyList<EndpointStatus> Endpoints, bool ReadOnly, int? Quorum = null);

public sealed record EndpointStatus(string Url, bool? Reachable, string? LastError, DateTimeOffset? CheckedAt);

/// <summary>A pause that holds for every partition it selects, also those assigned later.</summary>
public sealed record PauseRule(PartitionSelector Selector, string Reason);

/// <summary>One partition's position after a flush: everything consumed before the flush is in ClickHouse and
/// checkpointed up to <see cref="Committed"/> (the next offset to consume).</summary>
public sealed record PartitionPosition(string Topic, int Partition, string Table, long Committed);

/// <summary>The answer of flush-and-checkpoint.</summary>
public sealed record FlushResult(string Region, string Group, IReadOnlyList<PartitionPosition> Positions);

/// <summary>The answer of pause and resume: the partitions now assigned here that the selector matched.</summary>
public sealed record PauseResult(string Reason, PartitionSelector Selector, IReadOnlyList<PartitionStatus> Partitions);

using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>Body of the admin API's <c>POST /backup-points</c>: the point's name, the region's other workers (their
/// admin URLs; the worker asked coordinates and is always one of them), and how long the backend may run.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BackupPointRequest(string? Name = null, IReadOnlyList<string>? Peers = null, string? Timeout = null);

/// <summary>A backup point: where every partition of the region stood when ingest was paused for it, and how its
/// backup went. <see cref="Status"/>: started (the state a backup taken of it holds), finished or failed.
/// <see cref="StillPaused"/> names workers the coordinator could not resume (they keep reason "backup" until
/// <c>ingest resume --reason backup</c>).</summary>
public sealed record BackupPointReport(
    string Name,
    string Region,
    string Group,
    string Status,
    string Backend,
    string? Detail,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    long PauseMs,
    IReadOnlyList<string> Workers,
    IReadOnlyList<PartitionPosition> Positions,
    string? Error,
    IReadOnlyList<string> StillPaused);

/// <summary>The answer of <c>GET /backup-points</c>: the region's points, oldest first.</summary>
public sealed record BackupPointList(string Region, string Group, string Table, IReadOnlyList<BackupPointReport> Points);

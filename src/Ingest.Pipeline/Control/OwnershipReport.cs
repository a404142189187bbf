using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>Body of <c>POST /ownership/takeover</c> (<see cref="From"/>: the lost region) and
/// <c>POST /ownership/failback</c> (<see cref="To"/>: the region getting its partitions back).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record OwnershipRequest(string? From = null, string? To = null, bool Force = false, bool DryRun = false, string? Timeout = null);

/// <summary>One partition's ownership: the current claim, and what the command did to it.
/// <see cref="Start"/>: the first offset the owner writes at this epoch (−1: where the previous owner stopped);
/// <see cref="UncertainFirst"/>..<see cref="UncertainLast"/>: the previous owner's last INSERT, not seen landed at
/// takeover (its rows may exist in both subclusters: <c>ingest reconcile</c>); <see cref="Released"/>: a
/// failback's hand-over offset once the releasing region wrote it.</summary>
public sealed record PartitionOwnership(
    string Topic,
    int Partition,
    uint Epoch,
    string Owner,
    string PreviousOwner,
    string Reason,
    long Start,
    long UncertainFirst,
    long UncertainLast,
    long? Released,
    string? Note);

public sealed record RouteOwnership(string Table, string Region, string OtherRegion, IReadOnlyList<PartitionOwnership> Partitions);

/// <summary>The answer of the ownership verbs: <see cref="Action"/> is show, takeover, failback (or their dry runs);
/// <see cref="Checks"/> what the preconditions found.</summary>
public sealed record OwnershipReport(string Region, string Action, IReadOnlyList<RouteOwnership> Routes, IReadOnlyList<string> Checks);

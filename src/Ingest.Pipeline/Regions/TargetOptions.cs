namespace Ingest.Pipeline.Regions;

/// <summary>Where a route writes, named under <c>Ingest:Targets</c>. <c>independent</c>: the region's own cluster (its
/// replicas, failover between them). <c>two-subcluster</c>: two subclusters, each with its Keeper in one region and
/// replicas in both; this region writes the partitions it owns into its home subcluster (the one named after it)
/// and takes the other region's over when told to (docs/regions.md).</summary>
public sealed class TargetOptions
{
    public const string Independent = "independent";
    public const string TwoSubcluster = "two-subcluster";

    /// <summary>independent or two-subcluster.</summary>
    public string Kind { get; set; } = Independent;

    /// <summary>independent: the region's replicas, local first.</summary>
    public string[] Endpoints { get; set; } = [];

    /// <summary>two-subcluster: per region, the replicas of the subcluster whose Keeper runs there, this region's
    /// replica first (reads of the other subcluster go to it).</summary>
    public Dictionary<string, string[]> Subclusters { get; set; } = [];

    public OwnershipOptions Ownership { get; set; } = new();

    public QuorumOptions Quorum { get; set; } = new();

    internal bool IsTwoSubcluster => string.Equals(Kind, TwoSubcluster, StringComparison.OrdinalIgnoreCase);
}

public enum OwnershipMode
{
    /// <summary>Partition p belongs to the (p mod 2)-th region in name order.</summary>
    Modulo,

    /// <summary>As listed in <see cref="OwnershipOptions.Map"/>; unlisted partitions fall back to modulo.</summary>
    Map,
}

/// <summary>Which region writes which partition at first (epoch 0), and how ownership is followed.</summary>
public sealed class OwnershipOptions
{
    public OwnershipMode Mode { get; set; } = OwnershipMode.Modulo;

    /// <summary>Mode map: region → its partitions.</summary>
    public Dictionary<string, int[]> Map { get; set; } = [];

    /// <summary>The ownership history table, created in the route's database in both subclusters.</summary>
    public string Table { get; set; } = "ingest_ownership";

    /// <summary>How often ownership and the other region's checkpoints are read again.</summary>
    public TimeSpan FollowInterval { get; set; } = TimeSpan.FromSeconds(1);
}

public enum QuorumMode
{
    /// <summary>insert_quorum=2 while the home subcluster's replicas are all active; 0 while one is not (a lost
    /// region), back to 2 when it is active again.</summary>
    Auto,

    /// <summary>Always 2: nothing acknowledged lives in one region only, but a lost region stops every write.</summary>
    Strict,

    /// <summary>Always 0: fastest; rows acknowledged but not yet replicated are missing while their region is lost.</summary>
    Off,
}

/// <summary>insert_quorum of a two-subcluster target's INSERTs (the policy owns the setting; docs/regions.md).</summary>
public sealed class QuorumOptions
{
    public QuorumMode Mode { get; set; } = QuorumMode.Auto;

    /// <summary>insert_quorum_timeout: how long an INSERT waits for the other region's replica before 319.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

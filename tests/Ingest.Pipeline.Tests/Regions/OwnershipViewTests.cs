using Confluent.Kafka;
using Ingest.Pipeline.Regions;

namespace Ingest.Pipeline.Tests.Regions;

/// <summary>Who writes a partition, from the claims read from both subclusters: the configured owner at epoch 0 until
/// a claim, then the highest epoch.</summary>
public sealed class OwnershipViewTests
{
    private static readonly TopicPartition P0 = new("t", 0);
    private static readonly TopicPartition P1 = new("t", 1);

    private static SubclusterTarget Target(string region, string[] regions, Action<OwnershipOptions>? ownership = null)
    {
        var options = new IngestOptions
        {
            Region = region,
            Regions = regions,
            Kafka = { BootstrapServers = "127.0.0.1:9092", Group = "events", Topics = ["t"] },
            ClickHouse = { Table = "db.events", Target = "global" },
        };
        var target = new TargetOptions
        {
            Kind = TargetOptions.TwoSubcluster,
            Subclusters = { [regions[0]] = ["http://127.0.0.1:18123/"], [regions[1]] = ["http://127.0.0.1:28123/"] },
        };
        ownership?.Invoke(target.Ownership);
        options.Targets["global"] = target;
        return new SubclusterTarget(options, options.EffectiveRoutes()[0], target);
    }

    private static OwnershipClaim Claim(TopicPartition p, uint epoch, string owner, long start = -1, string reason = OwnershipClaim.Takeover) =>
        new(p.Topic, p.Partition.Value, epoch, owner, start, -1, -1, reason, owner == "a" ? "b" : "a", $"{owner}/host/1", DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    [Fact]
    public void Initial_owners_go_round_the_regions_in_ordinal_name_order()
    {
        // Listed out of order, and "US" sorts before "eu" ordinally (not in a culture's order).
        using var t = Target("eu", ["eu", "US"]);
        Assert.Equal(("eu", "US"), (t.Region, t.OtherRegion));
        Assert.Equal(["US", "eu", "US", "eu", "US"], Enumerable.Range(0, 5).Select(t.InitialOwner));
        Assert.Equal("events.US", t.GroupOf("US"));
        Assert.Equal("db.ingest_ownership", t.OwnershipTable);
        Assert.Equal("db.ingest_checkpoints", t.CheckpointTable);
    }

    [Fact]
    public void A_map_decides_the_partitions_it_lists_and_modulo_the_rest()
    {
        using var t = Target("b", ["b", "a"], o => (o.Mode, o.Map) = (OwnershipMode.Map, new() { ["a"] = [1, 5], ["b"] = [0] }));
        // 0, 1 and 5 as listed, against modulo; 2, 3 and 4 unlisted.
        Assert.Equal(["b", "a", "a", "b", "a", "a"], Enumerable.Range(0, 6).Select(t.InitialOwner));
    }

    [Fact]
    public void Without_claims_a_partition_belongs_to_its_initial_owner_at_epoch_0()
    {
        using var t = Target("a", ["a", "b"]);
        // A claim of another topic's partition 1 says nothing about t[1].
        var view = new OwnershipView([Claim(new TopicPartition("u", 1), 4, "a")], t.InitialOwner);
        foreach (var (p, owner) in new[] { (P0, "a"), (P1, "b") })
        {
            var current = view.Current(p);
            Assert.Equal((p.Topic, p.Partition.Value, 0u, owner, OwnershipClaim.Initial), (current.Topic, current.Partition, current.Epoch, current.Owner, current.Reason));
            Assert.False(current.HasStart);
            Assert.Empty(view.History(p));
        }
        Assert.Equal("a", view.Current(new TopicPartition("u", 1)).Owner);
    }

    [Fact]
    public void The_highest_epoch_wins_whatever_the_order_the_claims_are_read_in()
    {
        var view = new OwnershipView(
            [Claim(P0, 2, "a", reason: OwnershipClaim.Failback), Claim(P0, 3, "b", start: 900), Claim(P0, 1, "b", start: 500), Claim(P1, 1, "a", start: 7)],
            _ => "a");
        var current = view.Current(P0);
        Assert.Equal((3u, "b", 900L), (current.Epoch, current.Owner, current.StartOffset));
        Assert.Equal([1u, 2u, 3u], view.History(P0).Select(c => c.Epoch));
        Assert.Equal(("a", 1u), (view.Current(P1).Owner, view.Current(P1).Epoch));
        Assert.Equal(4, view.Claims.Count);
    }

    [Theory]
    [InlineData("a", "b")]
    [InlineData("b", "a")]
    public void A_tie_on_epoch_goes_to_the_higher_region_name(string first, string second)
    {
        var view = new OwnershipView([Claim(P0, 1, "a", start: 10), Claim(P0, 2, first, start: 20), Claim(P0, 2, second, start: 30)], _ => "a");
        Assert.Equal("b", view.Current(P0).Owner);
        Assert.Equal(["a", "a", "b"], view.History(P0).Select(c => c.Owner));
    }

    [Fact]
    public void The_same_claim_read_from_both_subclusters_counts_once()
    {
        var takeover = Claim(P0, 1, "b", start: 500);
        var failback = Claim(P0, 2, "a", reason: OwnershipClaim.Failback);
        // The copy read from the other subcluster, its timestamp rounded differently: still the same claim.
        var view = new OwnershipView([takeover, failback, takeover, failback with { ClaimedAt = failback.ClaimedAt.AddSeconds(1) }], _ => "a");
        Assert.Equal([takeover, failback], view.History(P0));
        Assert.Equal(2, view.Claims.Count);
        Assert.Equal(failback, view.Current(P0));
    }

    [Fact]
    public void Only_a_newer_takeover_counts_as_taken_over_not_a_failback()
    {
        var view = new OwnershipView([Claim(P0, 1, "b", start: 500), Claim(P0, 2, "a", reason: OwnershipClaim.Failback), Claim(P1, 1, "a", reason: OwnershipClaim.Failback)], _ => "a");
        Assert.True(view.TakenOverSince(P0, 0));
        Assert.False(view.TakenOverSince(P0, 1));
        Assert.False(view.TakenOverSince(P0, 2));
        Assert.False(view.TakenOverSince(P1, 0));
        Assert.False(view.TakenOverSince(new TopicPartition("t", 9), 0));
    }
}

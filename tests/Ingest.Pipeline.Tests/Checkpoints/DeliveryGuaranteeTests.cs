using Ingest.Pipeline.Checkpoints;

namespace Ingest.Pipeline.Tests.Checkpoints;

public sealed class DeliveryGuaranteeTests
{
    // system.merge_tree_settings on ClickHouse 18.16 (no non_replicated_deduplication_window) and on current versions.
    private const string Defaults1816 = "replicated_deduplication_window\t100\n";
    private const string DefaultsCurrent = "replicated_deduplication_window\t1000\nnon_replicated_deduplication_window\t0\n";

    [Fact]
    public void Replicated_tables_are_exactly_once_with_a_warning_for_a_small_window()
    {
        var g = DeliveryGuarantee.Decide("ReplicatedMergeTree", "ReplicatedMergeTree('/t', 'r') ORDER BY a SETTINGS index_granularity = 8192", Defaults1816, true, false, true);
        Assert.True(g.ExactlyOnce);
        Assert.Contains("window 100 blocks", g.Description, StringComparison.Ordinal);
        Assert.Contains(g.Warnings, w => w.Contains("raise it", StringComparison.Ordinal));
    }

    [Fact]
    public void A_table_level_window_wins_over_the_server_default()
    {
        var g = DeliveryGuarantee.Decide("ReplicatedMergeTree", "ReplicatedMergeTree('/t', 'r') ORDER BY a SETTINGS replicated_deduplication_window = 5000, index_granularity = 8192", Defaults1816, true, false, true);
        Assert.True(g.ExactlyOnce);
        Assert.Empty(g.Warnings);
    }

    [Fact]
    public void Without_an_offset_column_identical_batches_are_warned_about()
    {
        var g = DeliveryGuarantee.Decide("ReplicatedMergeTree", "ReplicatedMergeTree('/t', 'r') ORDER BY a", DefaultsCurrent, true, false, false);
        Assert.True(g.ExactlyOnce);
        Assert.Contains(g.Warnings, w => w.Contains("_offset", StringComparison.Ordinal));
    }

    [Fact]
    public void Plain_MergeTree_on_18_16_is_at_least_once()
    {
        var g = DeliveryGuarantee.Decide("MergeTree", "MergeTree ORDER BY a SETTINGS index_granularity = 8192", Defaults1816, true, false, true);
        Assert.False(g.ExactlyOnce);
        Assert.StartsWith("at-least-once", g.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void MergeTree_with_a_non_replicated_window_is_exactly_once()
    {
        var g = DeliveryGuarantee.Decide("MergeTree", "MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 8192", DefaultsCurrent, true, false, true);
        Assert.True(g.ExactlyOnce);
        Assert.Empty(g.Warnings);
    }

    [Fact]
    public void Checkpoints_off_or_a_Distributed_table_are_at_least_once()
    {
        Assert.False(DeliveryGuarantee.Decide("ReplicatedMergeTree", "", Defaults1816, false, false, true).ExactlyOnce);
        Assert.False(DeliveryGuarantee.Decide("Distributed", "Distributed(c, db, t, rand())", Defaults1816, true, false, true).ExactlyOnce);
    }

    [Fact]
    public void With_tokens_identical_batches_need_no_offset_column()
    {
        var g = DeliveryGuarantee.Decide("ReplicatedMergeTree", "ReplicatedMergeTree('/t', 'r') ORDER BY a", DefaultsCurrent, true, true, false);
        Assert.True(g.ExactlyOnce);
        Assert.Empty(g.Warnings);
        Assert.Contains("insert_deduplication_token", g.Description, StringComparison.Ordinal);
    }
}

using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;

namespace Ingest.Pipeline.Tests.Checkpoints;

public sealed class ReplayIdentityTests
{
    [Fact]
    public void Members_round_trip_with_dots_dashes_and_underscores_in_topic_names()
    {
        var members = "orders.v2-eu_west:12:100-199,a:0:0-0";
        Assert.Equal([(new TopicPartition("orders.v2-eu_west", 12), 100L, 199L), (new TopicPartition("a", 0), 0L, 0L)], ReplayIdentity.ParseMembers(members));
    }

    [Fact]
    public void A_malformed_member_is_named_in_the_error()
    {
        var e = Assert.Throws<FormatException>(() => ReplayIdentity.ParseMembers("t:1:5"));
        Assert.Contains("'t:1:5'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_pin_the_block_sizes_and_only_servers_with_tokens_get_one()
    {
        var checksums = new ReplayIdentity(false, "g.a", "db.t").SettingsFor("t:0:0-9");
        Assert.Equal("1", checksums["insert_deduplicate"]);
        Assert.Equal("1048545", checksums["min_insert_block_size_rows"]);
        Assert.False(checksums.ContainsKey("insert_deduplication_token"));
        Assert.Contains("insert_deduplication_token", ReplayIdentity.ControlledSettings);

        var tokens = new ReplayIdentity(true, "g.a", "db.t");
        Assert.Equal(tokens.SettingsFor("t:0:0-9")["insert_deduplication_token"], tokens.SettingsFor("t:0:0-9")["insert_deduplication_token"]);
        Assert.NotEqual(tokens.SettingsFor("t:0:0-9")["insert_deduplication_token"], tokens.SettingsFor("t:0:0-10")["insert_deduplication_token"]);
        Assert.NotEqual(tokens.SettingsFor("t:0:0-9")["insert_deduplication_token"], new ReplayIdentity(true, "g.b", "db.t").SettingsFor("t:0:0-9")["insert_deduplication_token"]);
    }
}

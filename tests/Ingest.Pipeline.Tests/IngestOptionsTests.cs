using Ingest.Pipeline.Kafka;

namespace Ingest.Pipeline.Tests;

public sealed class IngestOptionsTests
{
    private static IngestOptions Valid() => new()
    {
        Region = "a",
        Kafka = { BootstrapServers = "127.0.0.1:9092", Group = "events", Topics = ["t"] },
        ClickHouse = { Endpoints = ["http://127.0.0.1:8123/"], Table = "db.events" },
    };

    [Fact]
    public void The_consumer_group_is_per_region()
    {
        var options = Valid();
        options.Region = "eu-west";
        Assert.Equal("events.eu-west", ConsumerSettings.GroupId(options));
        var config = ConsumerSettings.Build(options);
        Assert.Equal("events.eu-west", config.GroupId);
        Assert.False(config.EnableAutoCommit);
        Assert.False(config.EnableAutoOffsetStore);
    }

    [Fact]
    public void Extra_librdkafka_properties_pass_through()
    {
        var options = Valid();
        options.Kafka.Properties["security.protocol"] = "SASL_SSL";
        Assert.Equal("SASL_SSL", ConsumerSettings.Build(options).Get("security.protocol"));
    }

    [Fact]
    public void A_valid_configuration_passes() => Valid().Validate();

    [Fact]
    public void Every_problem_is_named_at_once()
    {
        var options = new IngestOptions { ClickHouse = { Endpoints = ["ftp://x"], Table = "events" } };
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Ingest:Region is required", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:BootstrapServers is required", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:Topics", e.Message, StringComparison.Ordinal);
        Assert.Contains("'ftp://x' is not an http(s) URL", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be 'database.table'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_schema_refresh_interval_is_refused()
    {
        var options = Valid();
        options.ClickHouse.SchemaRefreshInterval = TimeSpan.FromSeconds(-1);
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Ingest:ClickHouse:SchemaRefreshInterval must be >= 0", e.Message, StringComparison.Ordinal);
    }
}

namespace Ingest.Pipeline.Tests;

public sealed class RouteOptionsTests
{
    private static IngestOptions Base() => new()
    {
        Region = "a",
        Kafka = { BootstrapServers = "127.0.0.1:9092" },
        ClickHouse = { Endpoints = ["http://127.0.0.1:8123/"], Settings = { ["insert_quorum"] = "2", ["max_threads"] = "1" } },
    };

    [Fact]
    public void The_shorthand_is_one_route_from_topics_to_the_table()
    {
        var options = Base();
        options.Kafka.Topics = ["a", "b"];
        options.ClickHouse.Table = "db.t";
        options.Validate();
        var route = Assert.Single(options.EffectiveRoutes());
        Assert.Equal(("db.t", "db.t"), (route.Name, route.Table));
        Assert.Equal(["a", "b"], route.Topics);
        Assert.Equal(InsertFormat.Native, route.Format);
        Assert.Same(options.Mapping, route.Mapping);
    }

    [Fact]
    public void Routes_take_their_own_format_mapping_and_settings_over_the_shared_ones()
    {
        var options = Base();
        options.Routes =
        [
            new RouteOptions { Topics = ["clicks"], Table = "db.clicks", Settings = { ["insert_quorum"] = "1" } },
            new RouteOptions { Name = "logs", TopicPattern = "logs\\..*", Table = "db.logs", Format = InsertFormat.JSONEachRow, Mapping = new() { Strict = true } },
        ];
        options.Validate();
        var routes = options.EffectiveRoutes();
        Assert.Equal(["db.clicks", "logs"], routes.Select(r => r.Name));
        Assert.Equal("1", routes[0].Settings["insert_quorum"]);
        Assert.Equal("1", routes[0].Settings["max_threads"]);
        Assert.Equal(InsertFormat.Native, routes[0].Format);
        Assert.Equal(InsertFormat.JSONEachRow, routes[1].Format);
        Assert.True(routes[1].Mapping!.Strict);
        Assert.Equal(["clicks", "^logs\\..*$"], options.Subscription());
        Assert.Matches(routes[1].PatternRegex()!, "logs.app");
        Assert.DoesNotMatch(routes[1].PatternRegex()!, "xlogs.app");
    }

    [Fact]
    public void Bad_routes_are_all_named()
    {
        var options = Base();
        options.Kafka.Topics = ["x"];
        options.Routes =
        [
            new RouteOptions { Topics = ["clicks"], Table = "clicks" },
            new RouteOptions { Topics = ["clicks"], Table = "db.other" },
            new RouteOptions { Table = "db.third" },
            new RouteOptions { TopicPattern = "(", Table = "db.other" },
        ];
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Ingest:Kafka:Topics cannot be used together with Ingest:Routes", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Routes:0:Table must be 'database.table'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Routes:1:Topics: topic 'clicks' is already routed by Ingest:Routes:0", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Routes:2 needs Topics or a TopicPattern", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Routes:3:TopicPattern '(' is not a regular expression", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Routes:3:Name 'db.other' is used by another route", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Type_errors_and_unknown_keys_are_all_named_before_binding()
    {
        var problems = OptionsCheck.Problems<IngestOptions>(
        [
            new("Ingest:Region", "a"),
            new("Ingest:Batching:MaxRows", "abc"),
            new("Ingest:Batching:MaxAge", "banana"),
            new("Ingest:Batching", null),
            new("Ingest:Kafka:Topic", "x"),
            new("Ingest:Kafka:Topics:0", "events"),
            new("Ingest:Kafka:Topics:first", "events"),
            new("Ingest:Kafka:Properties:security.protocol", "SSL"),
            new("Ingest:ClickHouse:Format", "Parquet"),
            new("Ingest:ClickHouse:Format", "1"),
            new("Ingest:ClickHouse:Settings:insert_quorum", "2"),
            new("Ingest:Routes:0:Format", "JSONEachRow"),
            new("Ingest:Routes:0:Mapping:Columns:country", "geo.country"),
            new("Ingest:Routes:0:Mapping:Strict", "yes"),
            new("Ingest:Region:sub", "x"),
            new("Logging:LogLevel:Default", "Information"),
        ], "Ingest");
        Assert.Equal(
        [
            "Ingest:Batching:MaxAge: 'banana' is not a duration (hh:mm:ss, e.g. 00:00:05)",
            "Ingest:Batching:MaxRows: 'abc' is not a whole number",
            "Ingest:ClickHouse:Format: '1' is not one of Native, JSONEachRow",
            "Ingest:ClickHouse:Format: 'Parquet' is not one of Native, JSONEachRow",
            "Ingest:Kafka:Topic: unknown setting 'Topic' (known here: BootstrapServers, Group, Topics, InstanceId, Properties)",
            "Ingest:Kafka:Topics:first: 'first' is not an index (a list takes :0, :1, ...)",
            "Ingest:Region:sub: a text setting has no sub-key 'sub'",
            "Ingest:Routes:0:Mapping:Strict: 'yes' is not true or false",
        ], problems);
    }
}

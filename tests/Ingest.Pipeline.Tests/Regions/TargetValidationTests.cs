using Ingest.Pipeline.Regions;

namespace Ingest.Pipeline.Tests.Regions;

/// <summary>Ingest:Regions, Ingest:Targets and the routes' Target keys as IngestOptions.Validate and OptionsCheck see
/// them: each problem named with its key.</summary>
public sealed class TargetValidationTests
{
    private const string NoEndpoints = "Ingest:ClickHouse:Endpoints needs at least one";

    /// <summary>Region a of a deployment whose shorthand route writes the two-subcluster target "global".</summary>
    private static IngestOptions TwoSubcluster() => new()
    {
        Region = "a",
        Regions = ["a", "b"],
        Kafka = { BootstrapServers = "127.0.0.1:9092", Group = "events", Topics = ["t"] },
        ClickHouse = { Table = "db.events", Target = "global" },
        Targets =
        {
            ["global"] = new TargetOptions
            {
                Kind = "two-subcluster",
                Subclusters = { ["a"] = ["http://a1:8123/", "http://b1:8123/"], ["b"] = ["http://a2:8123/", "http://b2:8123/"] },
            },
        },
    };

    /// <summary>The same target written by an explicit route (the form TopicPattern needs).</summary>
    private static IngestOptions TwoSubclusterRoute(Action<RouteOptions> configure)
    {
        var options = TwoSubcluster();
        options.Kafka.Topics = [];
        options.ClickHouse.Table = "";
        options.ClickHouse.Target = null;
        var route = new RouteOptions { Topics = ["t"], Table = "db.events", Target = "global" };
        configure(route);
        options.Routes = [route];
        return options;
    }

    private static TargetOptions Global(IngestOptions options) => options.Targets["global"];

    private static string Invalid(IngestOptions options) => Assert.Throws<InvalidOperationException>(options.Validate).Message;

    [Fact]
    public void A_two_subcluster_target_without_clickhouse_endpoints_passes() => TwoSubcluster().Validate();

    [Fact]
    public void A_two_subcluster_target_with_an_ownership_map_passes()
    {
        var options = TwoSubcluster();
        Global(options).Ownership.Mode = OwnershipMode.Map;
        Global(options).Ownership.Map = new() { ["a"] = [0, 3], ["b"] = [1, 2] };
        options.Validate();
    }

    [Fact]
    public void An_independent_target_with_endpoints_passes_and_clickhouse_endpoints_are_not_needed()
    {
        var options = TwoSubcluster();
        options.Regions = [];
        options.Targets = new() { ["local"] = new TargetOptions { Endpoints = ["http://127.0.0.1:8123/"] } };
        options.ClickHouse.Target = "local";
        options.Validate();
    }

    [Fact]
    public void A_route_without_a_target_still_needs_clickhouse_endpoints()
    {
        var options = TwoSubcluster();
        options.ClickHouse.Target = null;
        Assert.Contains(NoEndpoints, Invalid(options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kind", "Ingest:Targets:global:Kind 'stretched' is not independent or two-subcluster")]
    [InlineData("one-region", "Ingest:Targets:global is two-subcluster: Ingest:Regions must name exactly two regions (has 1)")]
    [InlineData("region-not-listed", "Ingest:Region 'c' is not one of Ingest:Regions (a, b)")]
    [InlineData("missing-subcluster", "Ingest:Targets:global:Subclusters:b is missing (one subcluster per region)")]
    [InlineData("subcluster-not-a-region", "Ingest:Targets:global:Subclusters:c: 'c' is not one of Ingest:Regions (a, b)")]
    [InlineData("endpoint-in-both", "Ingest:Targets:global:Subclusters:b: 'HTTP://A1:8123' is also listed in Subclusters:a; a replica belongs to one subcluster")]
    [InlineData("not-a-url", "Ingest:Targets:global:Subclusters:a: 'a1:8123' is not an http(s) URL")]
    [InlineData("unknown-target", "Ingest:ClickHouse:Target: no target 'globl' under Ingest:Targets (have: global)")]
    [InlineData("insert-quorum", "Ingest:ClickHouse:Target: setting insert_quorum cannot be given for two-subcluster target 'global'; its Quorum policy sets it (Ingest:Targets:global:Quorum)")]
    [InlineData("no-checkpoints", "Ingest:ClickHouse:Target: two-subcluster target 'global' needs Ingest:Checkpoints:Enabled")]
    [InlineData("empty-map", "Ingest:Targets:global:Ownership:Map is empty (Mode map lists each region's partitions)")]
    [InlineData("partition-twice", "Ingest:Targets:global:Ownership:Map:b: partition 2 is also listed for region a")]
    [InlineData("negative-partition", "Ingest:Targets:global:Ownership:Map:a: partition -1 is negative")]
    [InlineData("map-without-mode", "Ingest:Targets:global:Ownership:Map is given but Mode is Modulo; set Mode to Map")]
    [InlineData("quorum-timeout", "Ingest:Targets:global:Quorum:Timeout must be > 0")]
    [InlineData("endpoints-on-two-subcluster", "Ingest:Targets:global:Endpoints is for independent targets; a two-subcluster target lists Subclusters:<region>")]
    [InlineData("independent-without-endpoints", "Ingest:Targets:local:Endpoints needs at least one http(s) URL")]
    [InlineData("independent-with-subclusters", "Ingest:Targets:local:Subclusters is for two-subcluster targets; an independent target lists Endpoints")]
    public void A_bad_configuration_is_refused_naming_the_key_and_the_problem(string problem, string expected)
    {
        var options = TwoSubcluster();
        var global = Global(options);
        switch (problem)
        {
            case "kind": global.Kind = "stretched"; break;
            case "one-region": options.Regions = ["a"]; break;
            case "region-not-listed": options.Region = "c"; break;
            case "missing-subcluster": global.Subclusters.Remove("b"); break;
            case "subcluster-not-a-region": global.Subclusters["c"] = ["http://c1:8123/"]; break;
            // Compared as the same replica whatever the case and trailing slash.
            case "endpoint-in-both": global.Subclusters["b"] = ["http://a2:8123/", "HTTP://A1:8123"]; break;
            case "not-a-url": global.Subclusters["a"] = ["a1:8123", "http://b1:8123/"]; break;
            case "unknown-target": options.ClickHouse.Target = "globl"; break;
            case "insert-quorum": options.ClickHouse.Settings["insert_quorum"] = "2"; break;
            case "no-checkpoints": options.Checkpoints.Enabled = false; break;
            case "empty-map": global.Ownership.Mode = OwnershipMode.Map; break;
            case "partition-twice": (global.Ownership.Mode, global.Ownership.Map) = (OwnershipMode.Map, new() { ["a"] = [0, 2], ["b"] = [1, 2] }); break;
            case "negative-partition": (global.Ownership.Mode, global.Ownership.Map) = (OwnershipMode.Map, new() { ["a"] = [-1, 0], ["b"] = [1] }); break;
            case "map-without-mode": global.Ownership.Map = new() { ["a"] = [0], ["b"] = [1] }; break;
            case "quorum-timeout": global.Quorum.Timeout = TimeSpan.Zero; break;
            case "endpoints-on-two-subcluster": global.Endpoints = ["http://a1:8123/"]; break;
            case "independent-without-endpoints": options.Targets["local"] = new TargetOptions(); break;
            case "independent-with-subclusters":
                options.Targets["local"] = new TargetOptions { Endpoints = ["http://127.0.0.1:8123/"], Subclusters = { ["a"] = ["http://a1:8123/"] } };
                break;
            default: throw new ArgumentOutOfRangeException(nameof(problem), problem, null);
        }
        var message = Invalid(options);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        // Every route names a target: ClickHouse:Endpoints is not what is wrong, whatever else is.
        Assert.DoesNotContain(NoEndpoints, message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_route_with_a_topic_pattern_cannot_write_a_two_subcluster_target()
    {
        var message = Invalid(TwoSubclusterRoute(r => (r.Topics, r.TopicPattern) = ([], "events-.*")));
        Assert.Contains("Ingest:Routes:0:Target: two-subcluster target 'global' needs the route's topics named in Topics, not a TopicPattern", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_routes_own_quorum_setting_is_refused_once_under_its_key()
    {
        var options = TwoSubclusterRoute(r => r.Settings["insert_quorum_timeout"] = "1000");
        options.ClickHouse.Settings["insert_quorum_timeout"] = "2000";
        var message = Invalid(options);
        const string expected = "Ingest:Routes:0:Target: setting insert_quorum_timeout cannot be given for two-subcluster target 'global'";
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.Equal(message.IndexOf(expected, StringComparison.Ordinal), message.LastIndexOf(expected, StringComparison.Ordinal));
        TwoSubclusterRoute(_ => { }).Validate();
    }

    [Fact]
    public void Unknown_keys_and_bad_values_under_a_target_are_named_before_binding()
    {
        var problems = OptionsCheck.Problems<IngestOptions>(
        [
            new("Ingest:Regions:0", "a"),
            new("Ingest:Regions:1", "b"),
            new("Ingest:ClickHouse:Target", "global"),
            new("Ingest:Targets:global:Kind", "two-subcluster"),
            new("Ingest:Targets:global:Subclusters:a:0", "http://a1:8123/"),
            new("Ingest:Targets:global:Subcluster:a:0", "http://a1:8123/"),
            new("Ingest:Targets:global:Ownership:Mode", "map"),
            new("Ingest:Targets:global:Ownership:Map:a:0", "0"),
            new("Ingest:Targets:global:Ownership:FollowInterval", "00:00:02"),
            new("Ingest:Targets:global:Quorum:Timeout", "00:00:03"),
            new("Ingest:Targets:global:Quorum:Mode", "majority"),
            new("Ingest:Routes:0:Target", "global"),
        ], "Ingest");
        Assert.Equal(
        [
            "Ingest:Targets:global:Quorum:Mode: 'majority' is not one of Auto, Strict, Off",
            "Ingest:Targets:global:Subcluster:a:0: unknown setting 'Subcluster' (known here: Kind, Endpoints, Subclusters, Ownership, Quorum)",
        ], problems);
    }
}

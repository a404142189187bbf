using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;
using Ingest.LocalStack;
using Ingest.LocalStack.Kafka;

// Ingest.LocalStack: real local services for tests, the demo and the load harness (`--help` on each verb).
var throughput = new Option<bool>("--throughput")
{
    Description = "Instead of the disaster-recovery story: the throughput run (one region, one worker, --messages events as fast as they go)",
};
var regions = new Option<bool>("--regions")
{
    Description = "Instead of the backup story: two-subcluster regions, region a lost, `ingest takeover`, region a back, `ingest failback`, `ingest reconcile`",
};
var messages = CommandLineSupport.Number("--messages", "events to produce (--throughput)", 500_000L, min: 1);
var partitions = CommandLineSupport.Number("--partitions", "partitions of the topic (--throughput)", 16, min: 1);
var format = new Option<string>("--format") { Description = "the worker's INSERT format (--throughput)", DefaultValueFactory = _ => "Native" };
format.AcceptOnlyFromAmong("Native", "JSONEachRow");
var checkpoints = new Option<string>("--checkpoints") { Description = "offset checkpoints in ClickHouse (off: at-least-once) (--throughput)", DefaultValueFactory = _ => "on" };
checkpoints.AcceptOnlyFromAmong("on", "off");
var demo = new Command("demo", "The README's demo: regions a and b dual-ingest one topic (mock Kafka, ClickHouse 18.16, the real worker); " +
    "region a takes a backup point, loses its table, is restored with `ingest restore` and replays; exit 1 unless it equals region b " +
    "row for row and every message is exactly one row in each. --regions: the takeover and failback story; --throughput: the single-worker throughput run")
{
    throughput, regions, messages, partitions, format, checkpoints,
};
demo.Validators.Add(result =>
{
    if (result.GetValue(throughput) && result.GetValue(regions)) result.AddError("--throughput and --regions: one story at a time");
    if (result.GetValue(throughput)) return;
    // The story's sizes are fixed (they must fit the mock cluster's retention and two minutes); silently ignoring
    // an option would be worse than saying so.
    Option[] throughputOnly = [messages, partitions, format, checkpoints];
    var given = throughputOnly.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
    if (given.Count > 0) result.AddError($"{string.Join(", ", given)}: only with --throughput");
});
demo.SetAction(async (parse, ct) =>
{
    try
    {
        if (parse.GetValue(regions)) return await RegionsDemo.RunAsync(ct);
        return parse.GetValue(throughput)
            ? await Demo.RunAsync(parse.GetValue(messages), parse.GetValue(partitions), parse.GetRequiredValue(format), parse.GetValue(checkpoints) == "on", ct)
            : await DrDemo.RunAsync(ct);
    }
    catch (OperationCanceledException)
    {
        return 130;
    }
});

var brokers = CommandLineSupport.Number("--brokers", "mock brokers (ids 1..n)", 3, min: 1);
var topics = new Option<(string Name, int Partitions)[]>("--topic")
{
    Description = "a topic to create, name[:partitions] (1 partition by default); repeatable",
    HelpName = "name:partitions",
    CustomParser = ParseTopics,
};
var rebalanceDelay = CommandLineSupport.Number("--group-initial-rebalance-delay-ms",
    "how long a new consumer group's first rebalance waits for more members (the mock's own default is 3000)", 0, min: 0);
rebalanceDelay.HelpName = "ms";
var kafka = new Command("kafka", "A standalone mock Kafka cluster until Ctrl-C / SIGTERM") { brokers, topics, rebalanceDelay };
kafka.SetAction(async (parse, ct) =>
{
    using var cluster = MockKafkaCluster.Start(parse.GetValue(brokers), parse.GetValue(rebalanceDelay));
    foreach (var (name, count) in parse.GetValue(topics) ?? []) cluster.CreateTopic(name, count);
    Console.WriteLine($"bootstrap.servers={cluster.BootstrapServers}");
    Console.WriteLine($"librdkafka {MockKafkaCluster.NativeLibraryVersion} from {MockKafkaCluster.NativeLibraryPath}");
    await WaitForStop(ct);
    return 0;
});

var topologies = new Dictionary<string, Topology>
{
    ["single"] = Topology.Single,
    ["independent"] = Topology.Independent,
    ["two-subcluster"] = Topology.TwoSubcluster,
};
var topology = new Argument<string>("topology") { Description = "which ClickHouse deployment", DefaultValueFactory = _ => "single" };
topology.AcceptOnlyFromAmong([.. topologies.Keys]);
var https = new Option<bool>("--https") { Description = "ClickHouse nodes also serve HTTPS (certificates from a per-node CA)" };
var up = new Command("up", "A whole topology until Ctrl-C / SIGTERM, endpoints printed, logs kept") { topology, https };
up.SetAction(async (parse, ct) =>
{
    var options = new StackOptions { KeepDirectory = true, Https = parse.GetValue(https) };
    await using var stack = await Stack.StartAsync(topologies[parse.GetRequiredValue(topology)], options, ct);
    Console.WriteLine($"kafka bootstrap.servers={stack.KafkaBootstrap}");
    foreach (var k in stack.Keepers.Values) Console.WriteLine($"zookeeper {k.Name} {k.ConnectString}");
    foreach (var n in stack.Nodes)
    {
        var tls = n.HttpsEndpoint is null ? "" : $" https={n.HttpsEndpoint} ca={n.CaCertificateFile}";
        Console.WriteLine($"clickhouse {n.Name} region={n.Region} subcluster={n.Shard} http={n.HttpEndpoint} tcp={n.TcpPort}{tls}");
    }
    Console.WriteLine($"logs and data under {stack.Directory}; Ctrl-C stops everything");
    await WaitForStop(ct);
    return 0;
});

var root = new RootCommand("Ingest.LocalStack: real local services (mock Kafka, ZooKeeper 3.8, ClickHouse 18.16) for tests, the demo and load tests")
{
    demo, kafka, up,
};
// `Ingest.LocalStack` alone and `Ingest.LocalStack help` print the usage and succeed, as they always did.
var help = new Command("help") { Hidden = true };
help.SetAction(_ => root.Parse("--help").Invoke());
root.Add(help);
root.SetAction(parse => new HelpAction().Invoke(parse));

// Ctrl-C / SIGTERM cancel the verb's token; the stack's disposal (children killed, directory removed) then gets up
// to 30 s instead of System.CommandLine's default 2 s, after which it would return without waiting for it.
return await CommandLineSupport.InvokeAsync(root.Parse(args), new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });

static (string Name, int Partitions)[] ParseTopics(ArgumentResult result)
{
    var list = new List<(string, int)>();
    foreach (var token in result.Tokens)
    {
        var parts = token.Value.Split(':');
        if (parts is [{ Length: > 0 } name])
            list.Add((name, 1));
        else if (parts is [{ Length: > 0 } named, var count] && int.TryParse(count, CultureInfo.InvariantCulture, out var n) && n > 0)
            list.Add((named, n));
        else
            result.AddError($"--topic '{token.Value}': expected name or name:partitions (partitions 1 or more)");
    }
    return [.. list];
}

static async Task WaitForStop(CancellationToken ct)
{
    try
    {
        await Task.Delay(Timeout.Infinite, ct);
    }
    catch (OperationCanceledException)
    {
    }
}

using System.Globalization;
using Ingest.LocalStack;
using Ingest.LocalStack.Kafka;

// Ingest.LocalStack: real local services for tests, the demo and the load harness.
//   demo  [--messages N] [--partitions P] [--format Native|JSONEachRow] [--checkpoints on|off]   the README's demo (exit 1 unless produced == rows)
//   kafka [--brokers N] [--topic name:partitions]...   a standalone mock Kafka cluster until Ctrl-C / SIGTERM
//   up    [single|independent|two-subcluster] [--https]  a whole topology until Ctrl-C / SIGTERM, endpoints printed
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    cts.Cancel();
});

var command = args.Length > 0 ? args[0] : "help";
try
{
    switch (command)
    {
        case "demo":
            return await Demo.RunAsync(Option("--messages", 500_000L), (int)Option("--partitions", 16L), Text("--format", "Native"),
                Text("--checkpoints", "on") != "off", cts.Token);

        case "kafka":
            using (var kafka = MockKafkaCluster.Start((int)Option("--brokers", 3L)))
            {
                foreach (var t in Options("--topic"))
                {
                    var parts = t.Split(':');
                    kafka.CreateTopic(parts[0], parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 1);
                }
                Console.WriteLine($"bootstrap.servers={kafka.BootstrapServers}");
                await WaitForStop(cts.Token);
            }
            return 0;

        case "up":
            var topology = (args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : "single") switch
            {
                "single" => Topology.Single,
                "independent" => Topology.Independent,
                "two-subcluster" => Topology.TwoSubcluster,
                var other => throw new ArgumentException($"unknown topology '{other}' (single, independent, two-subcluster)"),
            };
            await using (var stack = await Stack.StartAsync(topology, new StackOptions { KeepDirectory = true, Https = args.Contains("--https") }, cts.Token))
            {
                Console.WriteLine($"kafka bootstrap.servers={stack.KafkaBootstrap}");
                foreach (var k in stack.Keepers.Values) Console.WriteLine($"zookeeper {k.Name} {k.ConnectString}");
                foreach (var n in stack.Nodes)
                {
                    var https = n.HttpsEndpoint is null ? "" : $" https={n.HttpsEndpoint} ca={n.CaCertificateFile}";
                    Console.WriteLine($"clickhouse {n.Name} region={n.Region} subcluster={n.Shard} http={n.HttpEndpoint} tcp={n.TcpPort}{https}");
                }
                Console.WriteLine($"logs and data under {stack.Directory}; Ctrl-C stops everything");
                await WaitForStop(cts.Token);
            }
            return 0;

        default:
            Console.WriteLine("usage: Ingest.LocalStack demo [--messages N] [--partitions P] [--format Native|JSONEachRow] [--checkpoints on|off] | kafka [--brokers N] [--topic name:partitions]... | up [single|independent|two-subcluster] [--https]");
            return command is "help" or "--help" ? 0 : 2;
    }
}
catch (OperationCanceledException)
{
    return 130;
}

long Option(string name, long fallback)
{
    var i = Array.IndexOf(args, name);
    if (i < 0) return fallback;
    if (i + 1 >= args.Length || !long.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v))
        throw new ArgumentException($"{name} needs a number");
    return v;
}

string Text(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

IEnumerable<string> Options(string name)
{
    for (var i = 0; i < args.Length - 1; i++)
        if (args[i] == name) yield return args[i + 1];
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

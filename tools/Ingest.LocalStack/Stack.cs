using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.ZooKeeper;

namespace Ingest.LocalStack;

/// <summary>The ClickHouse side of a deployment, as real processes on loopback.</summary>
public enum Topology
{
    /// <summary>One ClickHouse ("ch"), no ZooKeeper.</summary>
    Single,

    /// <summary>Regions a and b, each with its own ZooKeeper and one ReplicatedMergeTree-capable ClickHouse
    /// ("a1" on ZooKeeper "a", "b1" on ZooKeeper "b"); nothing shared between them.</summary>
    Independent,

    /// <summary>ZooKeeper "a" and "b". Subcluster a = a1 + b1 replicating through ZooKeeper a, subcluster b = a2 + b2
    /// through ZooKeeper b, so each region hosts a replica of both. Cluster "ingest" has both subclusters as
    /// shards for Distributed tables; each region's nodes list their local replica first (seed 000 at 47:07).</summary>
    TwoSubcluster,
}

public sealed class StackOptions
{
    public int KafkaBrokers { get; set; } = 3;

    /// <summary>The mock cluster's group initial rebalance delay (<see cref="MockKafkaCluster.Start"/>): 0 by default,
    /// so a first group join takes ~0.1 s instead of ~3 s.</summary>
    public int KafkaGroupInitialRebalanceDelayMs { get; set; }

    /// <summary>Start the mock Kafka cluster in this process; when false (or INGEST_KAFKA_BOOTSTRAP is set) none is started.</summary>
    public bool StartKafka { get; set; } = true;

    /// <summary>Where every service keeps its config, data and logs; a new temporary directory by default.</summary>
    public string? Directory { get; set; }

    /// <summary>Keep the directory (logs) after disposal.</summary>
    public bool KeepDirectory { get; set; }

    /// <summary>ClickHouse nodes also serve HTTPS (<see cref="ClickHouseServer.HttpsEndpoint"/>, certificate from
    /// the node's own CA in <see cref="ClickHouseServer.CaCertificateFile"/>). INGEST_CLICKHOUSE_URL is then ignored:
    /// the test needs a server whose CA it knows.</summary>
    public bool Https { get; set; }
}

/// <summary>Real services on free loopback ports: librdkafka's mock Kafka cluster, ZooKeeper 3.8 and ClickHouse
/// 18.16 per <see cref="Topology"/>. Disposal kills everything; the processes also die with this process.
/// INGEST_KAFKA_BOOTSTRAP and (single topology) INGEST_CLICKHOUSE_URL point at existing servers instead.</summary>
public sealed class Stack : IAsyncDisposable
{
    private readonly StackOptions _options;
    private readonly List<ClickHouseServer> _nodes = [];
    private readonly Dictionary<string, ZooKeeperServer> _keepers = [];

    private Stack(Topology topology, StackOptions options, string directory)
    {
        Topology = topology;
        _options = options;
        Directory = directory;
    }

    public Topology Topology { get; }

    public string Directory { get; }

    /// <summary>The in-process mock cluster, or null when Kafka is external.</summary>
    public MockKafkaCluster? Kafka { get; private set; }

    public string KafkaBootstrap { get; private set; } = "";

    public IReadOnlyList<ClickHouseServer> Nodes => _nodes;

    public IReadOnlyDictionary<string, ZooKeeperServer> Keepers => _keepers;

    public ClickHouseServer Node(string name) =>
        _nodes.FirstOrDefault(n => n.Name == name) ?? throw new ArgumentException($"no node '{name}' in {Topology} (have {string.Join(", ", _nodes.Select(n => n.Name))})");

    public static async Task<Stack> StartAsync(Topology topology, StackOptions? options = null, CancellationToken ct = default)
    {
        options ??= new StackOptions();
        var directory = options.Directory ?? Path.Combine(Path.GetTempPath(), $"ingest-stack-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        System.IO.Directory.CreateDirectory(directory);
        var stack = new Stack(topology, options, directory);
        try
        {
            stack.StartKafka();
            await stack.StartClickHouseAsync(ct).ConfigureAwait(false);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void StartKafka()
    {
        if (Environment.GetEnvironmentVariable("INGEST_KAFKA_BOOTSTRAP") is { Length: > 0 } external)
        {
            KafkaBootstrap = external;
            return;
        }
        if (!_options.StartKafka) return;
        Kafka = MockKafkaCluster.Start(_options.KafkaBrokers, _options.KafkaGroupInitialRebalanceDelayMs);
        KafkaBootstrap = Kafka.BootstrapServers;
    }

    private async Task StartClickHouseAsync(CancellationToken ct)
    {
        switch (Topology)
        {
            case Topology.Single:
                var node = Environment.GetEnvironmentVariable("INGEST_CLICKHOUSE_URL") is { Length: > 0 } url && !_options.Https
                    ? ClickHouseServer.External(new Uri(url))
                    : new ClickHouseServer("ch", "a", "s1", Path.Combine(Directory, "ch"), null, _options.Https);
                node.Clusters["ingest"] = [[node]];
                _nodes.Add(node);
                break;

            case Topology.Independent:
                await StartKeepersAsync(ct, "a", "b").ConfigureAwait(false);
                foreach (var region in new[] { "a", "b" })
                {
                    var n = new ClickHouseServer($"{region}1", region, region, Path.Combine(Directory, $"{region}1"), _keepers[region], _options.Https);
                    n.Clusters["ingest"] = [[n]];
                    _nodes.Add(n);
                }
                break;

            case Topology.TwoSubcluster:
                await StartKeepersAsync(ct, "a", "b").ConfigureAwait(false);
                // Node "<region><k>": k=1 replicates subcluster a (ZooKeeper a), k=2 subcluster b (ZooKeeper b).
                var a1 = New("a1", "a", "a");
                var b1 = New("b1", "b", "a");
                var a2 = New("a2", "a", "b");
                var b2 = New("b2", "b", "b");
                foreach (var n in _nodes)
                {
                    // Local region's replica first: with load_balancing=in_order, reads stay in the region.
                    n.Clusters["ingest"] = n.Region == "a" ? [[a1, b1], [a2, b2]] : [[b1, a1], [b2, a2]];
                }
                break;
        }
        await Task.WhenAll(_nodes.Select(n => n.StartAsync(ct))).ConfigureAwait(false);

        ClickHouseServer New(string name, string region, string subcluster)
        {
            var n = new ClickHouseServer(name, region, subcluster, Path.Combine(Directory, name), _keepers[subcluster], _options.Https);
            _nodes.Add(n);
            return n;
        }
    }

    private async Task StartKeepersAsync(CancellationToken ct, params string[] names)
    {
        var started = await Task.WhenAll(names.Select(n => ZooKeeperServer.StartAsync(n, Path.Combine(Directory, $"zk-{n}"), ct))).ConfigureAwait(false);
        foreach (var k in started) _keepers[k.Name] = k;
    }

    /// <summary>Runs a statement on every node (DDL: ON CLUSTER cannot span subclusters with different Keepers).</summary>
    public Task ExecuteOnAllAsync(string sql, CancellationToken ct = default) =>
        Task.WhenAll(_nodes.Select(n => n.Client.ExecuteAsync(sql, null, ct)));

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync().ConfigureAwait(false);
        foreach (var k in _keepers.Values) await k.DisposeAsync().ConfigureAwait(false);
        Kafka?.Dispose();
        if (!_options.KeepDirectory && _options.Directory is null)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // a process may still be closing a file; the temp dir is cleaned by the OS eventually
            }
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Xml.Linq;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.Tls;
using Ingest.LocalStack.ZooKeeper;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.LocalStack.ClickHouse;

/// <summary>A ClickHouse 18.16 server (Debian clickhouse-server) with a private config and data directory on
/// loopback ports, or an existing server (<see cref="External"/>). Macros {cluster} {shard} {replica} {region}
/// are set, remote_servers holds the clusters given, and ZooKeeper is configured when a Keeper is given. With
/// <c>https</c> it also serves HTTPS with a certificate from its own throwaway CA (<see cref="CaCertificateFile"/>).</summary>
public sealed class ClickHouseServer : IAsyncDisposable
{
    private Process? _process;

    public ClickHouseServer(string name, string region, string shard, string directory, ZooKeeperServer? keeper, bool https = false)
    {
        Name = name;
        Region = region;
        Shard = shard;
        Directory = directory;
        Keeper = keeper;
        HttpPort = FreePorts.Next();
        TcpPort = FreePorts.Next();
        InterserverPort = FreePorts.Next();
        HttpEndpoint = new Uri($"http://127.0.0.1:{HttpPort}/");
        Client = new ClickHouseHttpClient(HttpEndpoint, timeout: TimeSpan.FromSeconds(120));
        if (https)
        {
            HttpsPort = FreePorts.Next();
            HttpsEndpoint = new Uri($"https://127.0.0.1:{HttpsPort}/");
            CaCertificateFile = Path.Combine(directory, "tls", "ca.pem");
        }
    }

    private ClickHouseServer(Uri endpoint)
    {
        Name = "external";
        Region = "";
        Shard = "";
        Directory = "";
        HttpEndpoint = endpoint;
        Client = new ClickHouseHttpClient(endpoint, timeout: TimeSpan.FromSeconds(120));
        IsExternal = true;
    }

    /// <summary>An already running server (e.g. from INGEST_CLICKHOUSE_URL); it is never started or stopped.</summary>
    public static ClickHouseServer External(Uri endpoint) => new(endpoint);

    public string Name { get; }

    public string Region { get; }

    /// <summary>The {shard} macro: the subcluster this node replicates.</summary>
    public string Shard { get; }

    public string Directory { get; }

    public ZooKeeperServer? Keeper { get; }

    public bool IsExternal { get; }

    public int HttpPort { get; }

    public int TcpPort { get; }

    public int InterserverPort { get; }

    public Uri HttpEndpoint { get; }

    /// <summary>0 unless started with https.</summary>
    public int HttpsPort { get; }

    /// <summary>https://127.0.0.1:port/ when started with https, else null. The certificate names IP 127.0.0.1 and
    /// DNS localhost and is signed by the CA in <see cref="CaCertificateFile"/>.</summary>
    public Uri? HttpsEndpoint { get; }

    /// <summary>PEM of the CA that signed the https certificate (what a client must trust), when started with https.</summary>
    public string? CaCertificateFile { get; }

    public ClickHouseHttpClient Client { get; }

    public string LogFile => Path.Combine(Directory, "log", "server.log");

    public bool IsRunning => IsExternal || _process is { HasExited: false };

    /// <summary>Clusters for remote_servers: name → shards → replicas in the order this node should prefer them.</summary>
    public Dictionary<string, IReadOnlyList<IReadOnlyList<ClickHouseServer>>> Clusters { get; } = [];

    public async Task StartAsync(CancellationToken ct = default)
    {
        if (IsExternal) return;
        if (!File.Exists("/usr/sbin/clickhouse-server"))
            throw new InvalidOperationException("clickhouse-server is not installed (/usr/sbin/clickhouse-server missing): run scripts/bootstrap.sh");
        foreach (var sub in new[] { "data", "tmp", "user_files", "format_schemas", "log" })
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, sub));
        if (HttpsEndpoint is not null) CreateCertificates();
        WriteConfig();
        _process = ChildProcesses.Start("/usr/sbin/clickhouse-server", [$"--config-file={Path.Combine(Directory, "config.xml")}"],
            Path.Combine(Directory, "log", "stdout.log"), Directory);
        await Wait.UntilAsync($"ClickHouse {Name} on :{HttpPort}", _process, LogFile, TimeSpan.FromSeconds(60),
            async () => await Client.ScalarAsync("SELECT 1", ct).ConfigureAwait(false) == "1", ct).ConfigureAwait(false);
    }

    /// <summary>kill -9 (ClickHouse's own SIGTERM stop takes 8-10 s; data written is fsynced per part anyway).</summary>
    public void Kill()
    {
        if (_process is not null) ChildProcesses.Kill(_process);
    }

    public void Freeze() => ChildProcesses.Freeze(_process ?? throw new InvalidOperationException($"{Name} is not started"));

    public void Thaw() => ChildProcesses.Thaw(_process ?? throw new InvalidOperationException($"{Name} is not started"));

    /// <summary>Kill and start again on the same ports and data. Pitfall: while its ZooKeeper is down, a restart
    /// can exit (code 132) or come up with replicated tables missing until ATTACH TABLE.</summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        Kill();
        await StartAsync(ct).ConfigureAwait(false);
    }

    private string TlsDirectory => Path.Combine(Directory, "tls");

    /// <summary>Once per server directory: a restart keeps the CA that clients were given.</summary>
    private void CreateCertificates()
    {
        if (File.Exists(CaCertificateFile)) return;
        System.IO.Directory.CreateDirectory(TlsDirectory);
        using var ca = TestCertificates.CreateCa($"Ingest LocalStack CA for {Name}");
        using var server = TestCertificates.CreateServer(ca, ["localhost"], [IPAddress.Loopback]);
        TestCertificates.WritePem(ca, server, CaCertificateFile!, Path.Combine(TlsDirectory, "server.crt"), Path.Combine(TlsDirectory, "server.key"));
    }

    private void WriteConfig()
    {
        var config = new XElement("yandex",
            new XElement("logger",
                new XElement("level", "warning"),
                new XElement("log", LogFile),
                new XElement("errorlog", Path.Combine(Directory, "log", "error.log")),
                new XElement("size", "50M"),
                new XElement("count", "1")),
            new XElement("listen_host", "127.0.0.1"),
            new XElement("http_port", HttpPort),
            new XElement("tcp_port", TcpPort),
            new XElement("interserver_http_port", InterserverPort),
            new XElement("interserver_http_host", "127.0.0.1"),
            new XElement("path", Path.Combine(Directory, "data") + "/"),
            new XElement("tmp_path", Path.Combine(Directory, "tmp") + "/"),
            new XElement("user_files_path", Path.Combine(Directory, "user_files") + "/"),
            new XElement("format_schema_path", Path.Combine(Directory, "format_schemas") + "/"),
            new XElement("users_config", "users.xml"),
            new XElement("default_profile", "default"),
            new XElement("default_database", "default"),
            new XElement("timezone", "UTC"),
            // Small caches: several servers share a 2-core, 24 GB machine with the tests.
            new XElement("mark_cache_size", 128L << 20),
            new XElement("uncompressed_cache_size", 128L << 20),
            new XElement("max_concurrent_queries", 100),
            new XElement("mlock_executable", "false"),
            new XElement("macros",
                new XElement("cluster", "ingest"),
                new XElement("shard", Shard),
                new XElement("replica", Name),
                new XElement("region", Region)),
            new XElement("remote_servers", Clusters.Select(c =>
                new XElement(c.Key, c.Value.Select(shard =>
                    new XElement("shard",
                        // Replicated shards: the Distributed table writes one replica, replication does the rest.
                        new XElement("internal_replication", "true"),
                        shard.Select(r => new XElement("replica",
                            new XElement("host", "127.0.0.1"),
                            new XElement("port", r.TcpPort)))))))));
        if (Keeper is not null)
        {
            config.Add(new XElement("zookeeper",
                new XElement("node", new XElement("host", "127.0.0.1"), new XElement("port", Keeper.Port)),
                // Short timeouts: a lost Keeper turns tables read-only (code 242) in seconds, not 30 s.
                new XElement("session_timeout_ms", 4000),
                new XElement("operation_timeout_ms", 2000)));
        }
        if (HttpsEndpoint is not null)
        {
            // Only with https: the default config has no https lines at all. 18.16 (Poco 1.11 on the system
            // OpenSSL 3) starts without dhParamsFile (ECDHE and TLS 1.3 need none) and exits with code 70 if the
            // certificate or key cannot be loaded. verificationMode none: clients present no certificate.
            config.Add(
                new XElement("https_port", HttpsPort),
                new XElement("openSSL", new XElement("server",
                    new XElement("certificateFile", Path.Combine(TlsDirectory, "server.crt")),
                    new XElement("privateKeyFile", Path.Combine(TlsDirectory, "server.key")),
                    new XElement("verificationMode", "none"),
                    new XElement("loadDefaultCAFile", "false"),
                    new XElement("disableProtocols", "sslv2,sslv3"))));
        }
        new XDocument(config).Save(Path.Combine(Directory, "config.xml"));

        var users = new XElement("yandex",
            new XElement("profiles", new XElement("default",
                new XElement("max_memory_usage", 4_000_000_000L),
                // Distributed reads follow the replica order in remote_servers: local region first.
                new XElement("load_balancing", "in_order"),
                new XElement("background_pool_size", 4))),
            new XElement("users", new XElement("default",
                new XElement("password", ""),
                new XElement("networks", new XElement("ip", "127.0.0.1"), new XElement("ip", "::1")),
                new XElement("profile", "default"),
                new XElement("quota", "default"))),
            new XElement("quotas", new XElement("default", new XElement("interval",
                new XElement("duration", 3600), new XElement("queries", 0), new XElement("errors", 0),
                new XElement("result_rows", 0), new XElement("read_rows", 0), new XElement("execution_time", 0)))));
        new XDocument(users).Save(Path.Combine(Directory, "users.xml"));
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        Client.Dispose();
        return ValueTask.CompletedTask;
    }
}

using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Ingest.LocalStack.Processes;

namespace Ingest.LocalStack.ZooKeeper;

/// <summary>A standalone ZooKeeper 3.8 (Debian package) started as <c>java ... QuorumPeerMain</c> with a private
/// config: zkServer.sh hard-codes /etc/zookeeper and /var/log/zookeeper. The admin server is off (it would take
/// :8080) and the 4-letter words needed for readiness (srvr) are allowed.</summary>
public sealed class ZooKeeperServer : IAsyncDisposable
{
    private const string Jars = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";
    private Process? _process;

    private ZooKeeperServer(string name, string directory, int port)
    {
        Name = name;
        Directory = directory;
        Port = port;
    }

    public string Name { get; }

    public string Directory { get; }

    public int Port { get; }

    public string ConnectString => $"127.0.0.1:{Port}";

    public string LogFile => Path.Combine(Directory, "zookeeper.log");

    public bool IsRunning => _process is { HasExited: false };

    public static async Task<ZooKeeperServer> StartAsync(string name, string directory, CancellationToken ct = default)
    {
        if (!File.Exists("/usr/share/java/zookeeper.jar"))
            throw new InvalidOperationException("ZooKeeper is not installed (/usr/share/java/zookeeper.jar missing): run scripts/bootstrap.sh");
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "data"));
        var server = new ZooKeeperServer(name, directory, FreePorts.Next());
        File.WriteAllText(Path.Combine(directory, "zoo.cfg"), $"""
            # tickTime 500 ms: sessions of clients (ClickHouse) expire within seconds when this server is lost.
            tickTime=500
            initLimit=10
            syncLimit=5
            dataDir={directory}/data
            clientPort={server.Port}
            clientPortAddress=127.0.0.1
            admin.enableServer=false
            4lw.commands.whitelist=ruok,srvr,stat,mntr
            maxClientCnxns=0
            minSessionTimeout=1000
            """);
        File.WriteAllText(Path.Combine(directory, "log4j.properties"), """
            log4j.rootLogger=WARN, CONSOLE
            log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
            log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
            log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p %c{1}: %m%n
            """);
        await server.StartProcessAsync(ct).ConfigureAwait(false);
        return server;
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        _process = ChildProcesses.Start("java",
            ["-Xms16m", "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", $"{Directory}:{Jars}",
             "org.apache.zookeeper.server.quorum.QuorumPeerMain", Path.Combine(Directory, "zoo.cfg")],
            LogFile, Directory);
        await Wait.UntilAsync($"ZooKeeper {Name} on :{Port}", _process, LogFile, TimeSpan.FromSeconds(60),
            // Serving, not just running: ruok answers imok while a restarted server still loads its snapshot and log,
            // and a ClickHouse starting then fails the session handshake and exits (a replicated table it cannot
            // attach at start is fatal on 18.16). srvr names the mode only once requests are served.
            async () => (await FourLetterWordAsync("srvr", ct).ConfigureAwait(false)).Contains("Mode:", StringComparison.Ordinal), ct).ConfigureAwait(false);
    }

    /// <summary>Sends a ZooKeeper four-letter command (ruok, srvr, mntr) and returns the answer.</summary>
    public async Task<string> FourLetterWordAsync(string word, CancellationToken ct = default)
    {
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        await client.ConnectAsync("127.0.0.1", Port, timeout.Token).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(word), timeout.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return (await reader.ReadToEndAsync(timeout.Token).ConfigureAwait(false)).Trim();
    }

    /// <summary>kill -9: the region's Keeper is lost.</summary>
    public void Kill()
    {
        if (_process is not null) ChildProcesses.Kill(_process);
    }

    /// <summary>SIGSTOP: connections stay open but nothing answers (a hung Keeper).</summary>
    public void Freeze() => ChildProcesses.Freeze(_process ?? throw new InvalidOperationException("not started"));

    public void Thaw() => ChildProcesses.Thaw(_process ?? throw new InvalidOperationException("not started"));

    /// <summary>Starts again on the same port with the same data (after <see cref="Kill"/>).</summary>
    public Task RestartAsync(CancellationToken ct = default)
    {
        Kill();
        return StartProcessAsync(ct);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.LocalStack;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.ZooKeeper;

namespace Ingest.LoadHarness;

/// <summary>One backlog, many consumers: produces the sample events once into a mock Kafka cluster running as its own
/// process, then lets each contender drain the whole backlog alone (fresh consumer group, fresh table), the order
/// alternating over rounds, and measures each from /proc. A contender that loses or duplicates rows is reported as
/// such, never as fast.</summary>
internal static partial class SideBySide
{
    public static readonly string[] AllContenders = ["ingest-eo", "ingest-eo-rmt", "ingest-alo", "bare", "kcat", "kcat-ch", "kafka-engine"];

    /// <summary>Run only when named: the bare loop taking messages as the worker does (in place) and as a batch dequeue
    /// would, to split the worker's cost per message into consuming and the rest.</summary>
    /// <summary>Every contender's table: the sample events, their unique seq (duplicates show) and the provenance columns.</summary>
    internal const string TableColumns = SampleEvents.TableColumns + ", seq UInt64, _partition UInt32, _offset UInt64";

    public static readonly string[] ExtraContenders = ["bare-in-place", "bare-batch", "bare-decode", "bare-decode-2"];

    private const string Topic = "events";
    private const int BytesPerMessage = 130;
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ContenderLimit = TimeSpan.FromMinutes(5);
    private static readonly bool Interactive = !Console.IsOutputRedirected;

    private static readonly Dictionary<string, string> Descriptions = new()
    {
        ["ingest-eo"] = "Ingest worker, checkpoints on (exactly-once), MergeTree",
        ["ingest-eo-rmt"] = "Ingest worker, checkpoints on (exactly-once), ReplicatedMergeTree",
        ["ingest-alo"] = "Ingest worker, checkpoints off (at-least-once), MergeTree",
        ["bare"] = "bare C# Confluent.Kafka consume-and-discard, the worker's settings",
        ["bare-in-place"] = "bare loop on the worker's KafkaConsumer (batch dequeue, value read in place)",
        ["bare-batch"] = "bare loop on rd_kafka_consume_batch_queue (512 per call)",
        ["bare-decode"] = "the batch loop decoding into Native columns, one thread (no INSERTs)",
        ["bare-decode-2"] = "the batch loop decoding into Native columns, two threads (no INSERTs)",
        ["kcat"] = "kcat -G consume-and-discard",
        ["kcat-ch"] = "kcat -G | clickhouse-client INSERT FORMAT JSONEachRow",
        ["kafka-engine"] = "ClickHouse Kafka engine + materialized view",
    };

    /// <summary>Runs the drains, then the latency run when <paramref name="latencySeconds"/> is not 0 (at
    /// <paramref name="latencyRate"/>, or half the exactly-once worker's median drain rate).</summary>
    public static async Task<int> RunAsync(long messages, int partitions, int rounds, IReadOnlyList<string> contenders, string resultsDir, bool keep,
        int latencySeconds, double? latencyRate, IReadOnlyDictionary<string, string> workerSettings, CancellationToken ct)
    {
        if (latencySeconds > 0 && latencyRate is null && !contenders.Contains("ingest-eo"))
        {
            Console.Error.WriteLine("side-by-side: --latency-seconds needs --latency-rate, or ingest-eo among the contenders (its drain rate halved is the default)");
            return 2;
        }
        // The mock keeps only the newest 5 MiB per partition: a larger backlog would be cut before anyone reads it.
        var perPartition = messages * BytesPerMessage / partitions;
        if (perPartition > 4_500_000)
        {
            Console.Error.WriteLine($"side-by-side: {messages:N0} messages over {partitions} partitions is ~{perPartition / 1e6:0.0} MB per partition, " +
                $"more than the mock Kafka cluster keeps (5 MiB): use --partitions {messages * BytesPerMessage / 4_500_000 + 1} or more");
            return 2;
        }
        foreach (var tool in new[] { "/usr/bin/kcat", "/usr/bin/clickhouse-client", "/usr/bin/time" })
        {
            if (!File.Exists(tool))
            {
                Console.Error.WriteLine($"side-by-side: {tool} is missing (scripts/bootstrap.sh installs kcat and clickhouse-client; /usr/bin/time is Debian's `time`)");
                return 2;
            }
        }
        resultsDir = Path.GetFullPath(resultsDir);
        Directory.CreateDirectory(resultsDir);
        var stackDir = Path.Combine(Path.GetTempPath(), $"ingest-side-by-side-{Environment.ProcessId}");
        Directory.CreateDirectory(stackDir);
        var started = DateTimeOffset.UtcNow;
        Console.WriteLine($"side-by-side: {messages:N0} messages over {partitions} partitions, {rounds} round(s), contenders {string.Join(", ", contenders)}, " +
            $"{Environment.ProcessorCount} cores, load {LoadAverage()}");
        Console.WriteLine($"side-by-side: results in {resultsDir}, services under {stackDir}");
        try
        {
            WriteClickHouseExtras(Path.Combine(stackDir, "ch"));
            var kafkaLog = Path.Combine(stackDir, "kafka.log");
            var kafka = ChildProcesses.Start("dotnet", [RepoPaths.LocalStackDll, "kafka", "--topic", $"{Topic}:{partitions}", "--topic", $"{LatencyTopic}:{LatencyPartitions(partitions)}"], kafkaLog);
            try
            {
                var bootstrap = await WaitForBootstrapAsync(kafka, kafkaLog, ct);
                // One ClickHouse with its own ZooKeeper (not a Stack topology: Single has no Keeper, Independent
                // brings a second idle server), so MergeTree and ReplicatedMergeTree targets share one server.
                await using var keeper = await ZooKeeperServer.StartAsync("zk", Path.Combine(stackDir, "zk"), ct);
                await using var ch = new ClickHouseServer("ch", "a", "a", Path.Combine(stackDir, "ch"), keeper);
                ch.Clusters["ingest"] = [[ch]];
                await ch.StartAsync(ct);
                var chPid = ProcStat.FindClickHouse(Path.Combine(ch.Directory, "config.xml")) ?? throw new InvalidOperationException("ClickHouse server process not found");
                var zkPid = ProcStat.FindByCommandLine("QuorumPeerMain", keeper.Directory) ?? throw new InvalidOperationException("ZooKeeper process not found");
                Console.WriteLine($"side-by-side: mock Kafka pid {kafka.Id} at {bootstrap}; ClickHouse {await ch.Client.ScalarAsync("SELECT version()", ct)} pid {chPid} at {ch.HttpEndpoint}; ZooKeeper pid {zkPid}");

                // Shown because a users.d file that does not apply fails silently, and the engine then idles 7.5 s.
                Console.WriteLine($"side-by-side: stream_flush_interval_ms = {await ch.Client.ScalarAsync("SELECT value FROM system.settings WHERE name = 'stream_flush_interval_ms'", ct)}");
                await ProduceAsync(bootstrap, messages, partitions, ct);
                var env = new Env(bootstrap, ch, chPid, kafka.Id, zkPid, messages, partitions, stackDir) { WorkerOverrides = workerSettings };
                var results = new List<RunResult>();
                for (var round = 1; round <= rounds; round++)
                {
                    // Alternating order: whoever runs first meets a colder page cache and a fresher mock.
                    var order = round % 2 == 1 ? contenders : contenders.Reverse().ToList();
                    foreach (var name in order)
                    {
                        var result = await RunOneAsync(env, name, round, ct);
                        results.Add(result);
                        Console.WriteLine(Summary(result));
                    }
                }
                LatencyResult? latency = null;
                if (latencySeconds > 0)
                {
                    var rate = latencyRate ?? Medians(results).FirstOrDefault(m => m.Contender == "ingest-eo")?.DrainRowsPerSecond / 2;
                    if (rate is not > 0) throw new InvalidOperationException("no exactly-once drain rate was measured to halve: pass --latency-rate");
                    latency = await RunLatencyAsync(env, rate.Value, TimeSpan.FromSeconds(latencySeconds), ct);
                    Console.WriteLine($"side-by-side: latency {latency.Status}: p50 {F(latency.P50Ms, "0")} ms, p99 {F(latency.P99Ms, "0")} ms, max {F(latency.MaxMs, "0")} ms over {latency.ProbesSeen:N0} probes");
                }
                var report = Report(results, messages, partitions, rounds, started, workerSettings) + (latency is null ? "" : Environment.NewLine + LatencyReport(latency));
                await File.WriteAllTextAsync(Path.Combine(resultsDir, "results.md"), report, ct);
                await File.WriteAllTextAsync(Path.Combine(resultsDir, "results.json"), Json(results, messages, partitions, rounds, started, latency, workerSettings), ct);
                await File.WriteAllTextAsync(Path.Combine(resultsDir, "rows.svg"), Plot(results, messages), ct);
                Console.WriteLine();
                Console.WriteLine(report);
                Console.WriteLine($"side-by-side: wrote {Path.Combine(resultsDir, "results.md")}, results.json and rows.svg");
                return results.All(r => r.Status == "ok") && latency?.Status is null or "ok" ? 0 : 1;
            }
            finally
            {
                ChildProcesses.Kill(kafka);
            }
        }
        finally
        {
            if (keep) Console.WriteLine($"side-by-side: kept {stackDir}");
            else TryDelete(stackDir);
        }
    }

    internal sealed record Env(string Bootstrap, ClickHouseServer Ch, int ChPid, int KafkaPid, int ZkPid, long Messages, int Partitions, string Dir)
    {
        public IReadOnlyDictionary<string, string> WorkerOverrides { get; init; } = new Dictionary<string, string>();
    }

    /// <summary>What the Kafka engine needs before the server starts: 18.16 reads its librdkafka settings only from
    /// config.xml's &lt;kafka&gt; section, and a new group would otherwise start at the end of the topic. The
    /// librdkafka values are the best measured on this machine (notes: 25 % faster than the defaults); the flush
    /// interval is shortened because the engine otherwise idles up to 7.5 s before writing what it has read.</summary>
    private static void WriteClickHouseExtras(string chDir)
    {
        Directory.CreateDirectory(Path.Combine(chDir, "config.d"));
        Directory.CreateDirectory(Path.Combine(chDir, "users.d"));
        File.WriteAllText(Path.Combine(chDir, "config.d", "kafka.xml"), """
            <yandex>
              <kafka>
                <auto_offset_reset>smallest</auto_offset_reset>
                <queued_min_messages>1000000</queued_min_messages>
                <fetch_wait_max_ms>10</fetch_wait_max_ms>
                <fetch_error_backoff_ms>10</fetch_error_backoff_ms>
                <session_timeout_ms>6000</session_timeout_ms>
              </kafka>
            </yandex>
            """);
        File.WriteAllText(Path.Combine(chDir, "users.d", "stream.xml"), """
            <yandex>
              <profiles>
                <default>
                  <stream_flush_interval_ms>500</stream_flush_interval_ms>
                </default>
              </profiles>
            </yandex>
            """);
    }

    private static async Task<string> WaitForBootstrapAsync(Process kafka, string log, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (kafka.HasExited) throw new InvalidOperationException($"mock Kafka exited ({kafka.ExitCode}):\n{Wait.Tail(log)}");
            if (File.Exists(log))
            {
                foreach (var line in File.ReadAllLines(log))
                {
                    if (line.StartsWith("bootstrap.servers=", StringComparison.Ordinal)) return line["bootstrap.servers=".Length..];
                }
            }
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"mock Kafka printed no bootstrap.servers within 30 s:\n{Wait.Tail(log)}");
    }

    private static async Task ProduceAsync(string bootstrap, long messages, int partitions, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long delivered = 0;
        var producing = Task.Run(() => Produce(bootstrap, messages, d => Interlocked.Exchange(ref delivered, d), ct), ct);
        while (!producing.IsCompleted)
        {
            Progress($"side-by-side: producing the backlog {Interlocked.Read(ref delivered),11:N0} / {messages:N0}   {clock.Elapsed.TotalSeconds,5:0.0} s", clock.Elapsed);
            await Task.WhenAny(producing, Task.Delay(250, ct));
        }
        await producing;
        EndProgress();

        // Every message must still be there: the mock silently drops the oldest beyond 5 MiB per partition.
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "side-by-side-probe" }).Build();
        long kept = 0;
        for (var p = 0; p < partitions; p++)
        {
            var w = probe.QueryWatermarkOffsets(new TopicPartition(Topic, new Partition(p)), TimeSpan.FromSeconds(10));
            if (w.Low.Value != 0) throw new InvalidOperationException($"partition {p} starts at offset {w.Low.Value}: the mock dropped messages (retention)");
            kept += w.High.Value - w.Low.Value;
        }
        if (kept != messages) throw new InvalidOperationException($"the topic holds {kept:N0} messages, {messages:N0} were produced");
        Console.WriteLine($"side-by-side: backlog of {messages:N0} messages produced in {clock.Elapsed.TotalSeconds:0.0} s and checked (watermarks), load {LoadAverage()}");
    }

    /// <summary>SampleEvents' messages, produced in large batches. The mock answers a fetch with one producer batch
    /// per partition and its CPU per message grows with the number of batches: SampleEvents.Produce's 5 ms linger
    /// spread over 80 partitions made ~12-message batches, and every contender then read at the mock's pace
    /// (~9 CPU-s per million messages in the mock, one core) instead of its own.</summary>
    private static long Produce(string bootstrap, long messages, Action<long> progress, CancellationToken ct) =>
        SampleEvents.Produce(bootstrap, Topic, 0, messages, progress, ct, new ProducerConfig
        {
            Acks = Acks.All,
            LingerMs = 200,
            BatchSize = 1_000_000,
            BatchNumMessages = 100_000,
            StickyPartitioningLingerMs = 0,
            QueueBufferingMaxMessages = 2_000_000,
            QueueBufferingMaxKbytes = 1_048_576,
        });

    private static async Task<RunResult> RunOneAsync(Env env, string name, int round, CancellationToken ct)
    {
        var id = $"{name.Replace('-', '_')}_{round}_{Guid.NewGuid().ToString("N")[..6]}";
        var load = LoadAverage();
        try
        {
            return name switch
            {
                "ingest-eo" => await RunWorkerAsync(env, name, round, id, checkpoints: true, replicated: false, load, ct),
                "ingest-eo-rmt" => await RunWorkerAsync(env, name, round, id, checkpoints: true, replicated: true, load, ct),
                "ingest-alo" => await RunWorkerAsync(env, name, round, id, checkpoints: false, replicated: false, load, ct),
                "bare" => await RunBareAsync(env, name, round, id, "confluent", load, ct),
                "bare-in-place" => await RunBareAsync(env, name, round, id, "in-place", load, ct),
                "bare-batch" => await RunBareAsync(env, name, round, id, "batch", load, ct),
                "bare-decode" => await RunBareAsync(env, name, round, id, "decode", load, ct),
                "bare-decode-2" => await RunBareAsync(env, name, round, id, "decode-2", load, ct),
                "kcat" => await RunKcatAsync(env, name, round, id, load, ct),
                "kcat-ch" => await RunKcatClickHouseAsync(env, name, round, id, load, ct),
                "kafka-engine" => await RunKafkaEngineAsync(env, name, round, id, load, ct),
                _ => throw new ArgumentException($"unknown contender {name}"),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            EndProgress();
            return new RunResult(name, round, $"failed: {e.Message.Split('\n')[0]}", 0, 0, null, null, 0, null, null, null, null, null, load);
        }
        finally
        {
            try
            {
                await env.Ch.Client.ExecuteAsync($"DROP DATABASE IF EXISTS sbs_{id}", ct: ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Console.Error.WriteLine($"side-by-side: could not drop sbs_{id}: {e.Message}");
            }
        }
    }

    private static async Task<string> CreateTableAsync(Env env, string id, CancellationToken ct, bool replicated = false)
    {
        var db = $"sbs_{id}";
        await env.Ch.Client.ExecuteAsync($"CREATE DATABASE {db}", ct: ct);
        // The demo's table: every contender writes seq (the message's unique number) so duplicates show up.
        var engine = replicated
            ? $"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{db}.events', '{{replica}}') ORDER BY (event, ts) SETTINGS replicated_deduplication_window = 1000"
            : "MergeTree ORDER BY (event, ts)";
        await env.Ch.Client.ExecuteAsync($"CREATE TABLE {db}.events ({TableColumns}) ENGINE = {engine}", ct: ct);
        return $"{db}.events";
    }

    /// <summary>CPU-seconds of ClickHouse, the mock Kafka process and ZooKeeper since the contender started.</summary>
    private sealed class ServiceCpu
    {
        private readonly int[] _pids;
        private readonly double[] _start;

        public ServiceCpu(Env env)
        {
            _pids = [env.ChPid, env.KafkaPid, env.ZkPid];
            _start = [.. _pids.Select(p => ProcStat.CpuSeconds(p) ?? 0)];
        }

        public Services Now()
        {
            var d = _pids.Select((p, i) => (ProcStat.CpuSeconds(p) ?? 0) - _start[i]).ToArray();
            return new Services(d[0], d[1], d[2]);
        }
    }

    private readonly record struct Services(double ClickHouse, double Kafka, double ZooKeeper);

    private static async Task<RunResult> RunWorkerAsync(Env env, string name, int round, string id, bool checkpoints, bool replicated, string load, CancellationToken ct)
    {
        var table = await CreateTableAsync(env, id, ct, replicated);
        var services = new ServiceCpu(env);
        var clock = Stopwatch.StartNew();
        await using var worker = await WorkerProcess.StartAsync(WorkerSettings(env, id, table, Topic, checkpoints), Path.Combine(env.Dir, $"worker-{id}.log"), ct);
        await using var sampler = new TreeSampler(worker.ProcessId);
        var watch = await WatchTableAsync(env, name, round, table, clock, () => worker.HasExited, ct, sampler);
        // Read at the last row: the worker stays up (idle) afterwards, which is not its cost.
        sampler.Sample();
        var cpu = sampler.CpuSeconds;
        var rss = sampler.PeakRssBytes;
        var svc = services.Now();
        var (rows, distinct) = await SettleAndCountAsync(env, table, ct);
        if (!worker.HasExited) await worker.StopAsync(TimeSpan.FromSeconds(30));
        return FromTable(name, round, env.Messages, watch, rows, distinct, cpu, svc, rss, load);
    }

    /// <summary>The batch age of the worker in every run (the demo's): a drain is sealed by age more than by size.</summary>
    private static readonly TimeSpan WorkerMaxAge = TimeSpan.FromMilliseconds(500);

    /// <summary>The worker's settings in every run, then --worker-setting's (a configuration key, or an environment
    /// variable such as DOTNET_TieredCompilation: keys without ':' reach the worker's environment as they are).</summary>
    private static Dictionary<string, string> WorkerSettings(Env env, string id, string table, string topic, bool checkpoints)
    {
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Region"] = "a",
            ["Ingest:Kafka:BootstrapServers"] = env.Bootstrap,
            ["Ingest:Kafka:Group"] = $"sbs-{id}",
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Endpoints:0"] = env.Ch.HttpEndpoint.ToString(),
            ["Ingest:ClickHouse:Table"] = table,
            ["Ingest:Batching:MaxAge"] = WorkerMaxAge.ToString("c", CultureInfo.InvariantCulture),
            ["Ingest:Checkpoints:Enabled"] = checkpoints ? "true" : "false",
        };
        foreach (var (key, value) in env.WorkerOverrides) settings[key] = value;
        return settings;
    }

    private static async Task<RunResult> RunKafkaEngineAsync(Env env, string name, int round, string id, string load, CancellationToken ct)
    {
        var table = await CreateTableAsync(env, id, ct);
        var db = $"sbs_{id}";
        var consumers = Math.Min(env.Partitions, Environment.ProcessorCount);
        var services = new ServiceCpu(env);
        var clock = Stopwatch.StartNew();
        await env.Ch.Client.ExecuteAsync($"CREATE TABLE {db}.queue ({SampleEvents.TableColumns}, seq UInt64) ENGINE = Kafka SETTINGS " +
            $"kafka_broker_list = '{env.Bootstrap}', kafka_topic_list = '{Topic}', kafka_group_name = 'sbs-{id}', kafka_format = 'JSONEachRow', " +
            $"kafka_num_consumers = {consumers}, kafka_max_block_size = 1048576", ct: ct);
        await env.Ch.Client.ExecuteAsync($"CREATE MATERIALIZED VIEW {db}.mv TO {table} AS SELECT ts, user_id, event, value, tags, seq, " +
            $"toUInt32(0) AS _partition, toUInt64(0) AS _offset FROM {db}.queue", ct: ct);
        try
        {
            var watch = await WatchTableAsync(env, name, round, table, clock, () => false, ct);
            var svc = services.Now();
            var (rows, distinct) = await SettleAndCountAsync(env, table, ct);
            return FromTable(name, round, env.Messages, watch, rows, distinct, null, svc, null, load);
        }
        finally
        {
            // Stops its consumers before the database goes: dropping the view first detaches the stream.
            await env.Ch.Client.ExecuteAsync($"DROP TABLE IF EXISTS {db}.mv", ct: ct);
            await env.Ch.Client.ExecuteAsync($"DROP TABLE IF EXISTS {db}.queue", ct: ct);
        }
    }

    private static async Task<RunResult> RunKcatClickHouseAsync(Env env, string name, int round, string id, string load, CancellationToken ct)
    {
        var table = await CreateTableAsync(env, id, ct);
        var timeFile = Path.Combine(env.Dir, $"{id}.time");
        var services = new ServiceCpu(env);
        var clock = Stopwatch.StartNew();
        var script = $"kcat {KcatArgs(env, id, "%s\\n")} | clickhouse-client --host 127.0.0.1 --port {env.Ch.TcpPort} --query 'INSERT INTO {table} FORMAT JSONEachRow'";
        var pipeline = ChildProcesses.Start("/usr/bin/time", ["-f", "%U %S %M", "-o", timeFile, "bash", "-o", "pipefail", "-c", script], Path.Combine(env.Dir, $"{id}.log"));
        try
        {
            await using var sampler = new TreeSampler(pipeline.Id);
            // No CPU from 20 to 80 %: rows land a 1,048,576-row block at a time, long after kcat read them.
            var watch = await WatchTableAsync(env, name, round, table, clock, () => pipeline.HasExited, ct);
            var svc = services.Now();
            await WaitExitAsync(pipeline, ct);
            var (timedCpu, _) = ReadTime(timeFile);
            var (rows, distinct) = await SettleAndCountAsync(env, table, ct);
            var status = pipeline.ExitCode == 0 ? null : $"failed: exit {pipeline.ExitCode}: {Wait.Tail(Path.Combine(env.Dir, $"{id}.log"), 3)}";
            return FromTable(name, round, env.Messages, watch, rows, distinct, timedCpu ?? sampler.CpuSeconds, svc, sampler.PeakRssBytes, load, status);
        }
        finally
        {
            ChildProcesses.Kill(pipeline);
        }
    }

    private static async Task<RunResult> RunKcatAsync(Env env, string name, int round, string id, string load, CancellationToken ct)
    {
        var timeFile = Path.Combine(env.Dir, $"{id}.time");
        var log = Path.Combine(env.Dir, $"{id}.log");
        var services = new ServiceCpu(env);
        var clock = Stopwatch.StartNew();
        // One short line per message (partition, offset): enough to count and to find a redelivery, little to write.
        var kcat = ChildProcesses.Start("/usr/bin/time", ["-f", "%U %S %M", "-o", timeFile, "kcat", .. KcatArgList(env, id, "%p %o\\n")], log);
        try
        {
            await using var sampler = new TreeSampler(kcat.Id);
            double? first = null, last = null;
            long firstLines = 0, lines = 0;
            var series = new List<double[]>();
            var middle = new MiddleCpu(sampler, env.Messages);
            var lastChange = Stopwatch.StartNew();
            await using (var reader = new FileStream(log, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite))
            {
                var buffer = new byte[1 << 16];
                while (clock.Elapsed < ContenderLimit && lastChange.Elapsed < Stall)
                {
                    var exited = kcat.HasExited;
                    int n;
                    while ((n = await reader.ReadAsync(buffer, ct)) > 0)
                    {
                        lines += buffer.AsSpan(0, n).Count((byte)'\n');
                        lastChange.Restart();
                    }
                    if (lines > 0 && first is null)
                    {
                        first = clock.Elapsed.TotalSeconds;
                        firstLines = lines;
                    }
                    if (lines >= env.Messages && last is null) last = clock.Elapsed.TotalSeconds;
                    middle.Add(lines);
                    series.Add([Math.Round(clock.Elapsed.TotalSeconds, 2), lines]);
                    Progress(ProgressLine(name, round, lines, env.Messages, clock), clock.Elapsed);
                    if (exited) break;
                    await Task.Delay(20, ct);
                }
            }
            EndProgress();
            var svc = services.Now();
            await WaitExitAsync(kcat, ct);
            var (timedCpu, timedRss) = ReadTime(timeFile);
            var (distinct, duplicates) = CountOffsets(log);
            last ??= clock.Elapsed.TotalSeconds - lastChange.Elapsed.TotalSeconds;
            var watch = new Watch(first, firstLines, last, distinct + duplicates, series) { MiddleCpuPerMillion = middle.PerMillion, MiddleMachineBusy = middle.MachineBusy };
            var status = kcat.ExitCode == 0 ? null : $"failed: kcat exit {kcat.ExitCode}";
            return FromCounts(name, round, env.Messages, watch, distinct, duplicates, timedCpu ?? sampler.CpuSeconds, svc, Math.Max(sampler.PeakRssBytes, timedRss ?? 0), load, status);
        }
        finally
        {
            ChildProcesses.Kill(kcat);
        }
    }

    private static async Task<RunResult> RunBareAsync(Env env, string name, int round, string id, string mode, string load, CancellationToken ct)
    {
        var timeFile = Path.Combine(env.Dir, $"{id}.time");
        var log = Path.Combine(env.Dir, $"{id}.log");
        var harness = Path.Combine(AppContext.BaseDirectory, "Ingest.LoadHarness.dll");
        var services = new ServiceCpu(env);
        var startMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        var bare = ChildProcesses.Start("/usr/bin/time", ["-f", "%U %S %M", "-o", timeFile, "dotnet", harness, "consume",
            "--bootstrap", env.Bootstrap, "--topic", Topic, "--group", $"sbs-{id}", "--expect", env.Messages.ToString(CultureInfo.InvariantCulture), "--mode", mode], log,
            environment: new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" });
        try
        {
            await using var sampler = new TreeSampler(bare.Id);
            var series = new List<double[]>();
            var middle = new MiddleCpu(sampler, env.Messages);
            while (!bare.HasExited && clock.Elapsed < ContenderLimit + Stall)
            {
                var progress = LastProgress(log);
                middle.Add(progress);
                series.Add([Math.Round(clock.Elapsed.TotalSeconds, 2), progress]);
                Progress(ProgressLine(name, round, progress, env.Messages, clock), clock.Elapsed);
                await Task.Delay(100, ct);
            }
            EndProgress();
            var svc = services.Now();
            await WaitExitAsync(bare, ct);
            var (timedCpu, timedRss) = ReadTime(timeFile);
            var line = File.ReadLines(log).LastOrDefault(l => l.StartsWith("result ", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"the bare loop printed no result (exit {bare.ExitCode}):\n{Wait.Tail(log, 5)}");
            var fields = line["result ".Length..].Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => long.Parse(f[1], CultureInfo.InvariantCulture));
            var watch = new Watch((fields["first_unix_ms"] - startMs) / 1000.0, 1, (fields["last_unix_ms"] - startMs) / 1000.0, fields["distinct"] + fields["duplicates"], series)
            {
                MiddleCpuPerMillion = middle.PerMillion,
                MiddleMachineBusy = middle.MachineBusy,
            };
            return FromCounts(name, round, env.Messages, watch, fields["distinct"], fields["duplicates"], timedCpu ?? sampler.CpuSeconds, svc,
                Math.Max(sampler.PeakRssBytes, timedRss ?? 0), load);
        }
        finally
        {
            ChildProcesses.Kill(bare);
        }
    }

    /// <summary>kcat as a high-level balanced consumer (-G, a fresh group) from the beginning, exiting at the end of
    /// every partition (-e), with the librdkafka settings of the worker that Debian's librdkafka 2.0.2 knows
    /// (fetch.queue.backoff.ms came later). Not the worker's 1 MiB prefetch bound: without fetch.queue.backoff.ms,
    /// 2.0.2 waits a second whenever a partition's queue is full (measured: kcat 99k instead of ~1M messages/s).</summary>
    private static string[] KcatArgList(Env env, string id, string format) =>
    [
        "-C", "-b", env.Bootstrap, "-G", $"sbs-{id}", "-e", "-q", "-f", format,
        "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
        "-X", "queued.min.messages=1000000", "-X", "fetch.wait.max.ms=10",
        Topic,
    ];

    private static string KcatArgs(Env env, string id, string format) =>
        string.Join(' ', KcatArgList(env, id, format).Select(a => $"'{a}'"));

    /// <summary>What was seen of a contender's progress; the series holds (seconds since it started, rows or messages
    /// so far), for the plot.</summary>
    private sealed record Watch(double? FirstAt, long FirstCount, double? LastAt, long Seen, List<double[]> Series)
    {
        public double? MiddleCpuPerMillion { get; init; }

        public double? MiddleMachineBusy { get; init; }
    }

    /// <summary>Polls count() every 100 ms from the contender's start until every message is a row, the contender
    /// ended, nothing moved for 30 s, or 5 minutes passed.</summary>
    private static async Task<Watch> WatchTableAsync(Env env, string name, int round, string table, Stopwatch clock, Func<bool> ended, CancellationToken ct,
        TreeSampler? sampler = null)
    {
        var middle = new MiddleCpu(sampler, env.Messages);
        double? first = null, last = null;
        long firstCount = 0, rows = 0;
        var series = new List<double[]>();
        var lastChange = Stopwatch.StartNew();
        var endedSeen = false;
        while (clock.Elapsed < ContenderLimit && lastChange.Elapsed < Stall)
        {
            var stop = endedSeen;
            endedSeen = ended();
            var now = long.Parse(await env.Ch.Client.ScalarAsync($"SELECT count() FROM {table}", ct) ?? "0", CultureInfo.InvariantCulture);
            // One time per answer: first and last seen in the same answer make no drain interval.
            var at = clock.Elapsed.TotalSeconds;
            if (now != rows) lastChange.Restart();
            rows = now;
            series.Add([Math.Round(at, 2), rows]);
            if (rows > 0 && first is null)
            {
                first = at;
                firstCount = rows;
            }
            middle.Add(rows);
            Progress(ProgressLine(name, round, rows, env.Messages, clock), clock.Elapsed);
            // A count past N can still hide missing messages behind redelivered ones: only distinct seq ends it.
            if (rows >= env.Messages && long.Parse(await env.Ch.Client.ScalarAsync($"SELECT uniqExact(seq) FROM {table}", ct) ?? "0", CultureInfo.InvariantCulture) >= env.Messages)
            {
                last = at;
                break;
            }
            // One more count after the contender ended, for what it wrote last.
            if (stop) break;
            await Task.Delay(100, ct);
        }
        EndProgress();
        return new Watch(first, firstCount, last, rows, series) { MiddleCpuPerMillion = middle.PerMillion, MiddleMachineBusy = middle.MachineBusy };
    }

    /// <summary>The contender's CPU per million rows between 20 % and 80 % of the rows seen: what a row costs once
    /// running, without the start-up and the tail. (CPU at the first row would not do: by then the worker has taken
    /// and decoded far more messages than that first INSERT holds.)</summary>
    private sealed class MiddleCpu(TreeSampler? sampler, long total)
    {
        private (long Rows, double Cpu, MachineCpu Machine)? _from, _to;

        /// <summary>Called with every observation of the rows (messages) so far.</summary>
        public void Add(long rows)
        {
            if (_to is not null || rows < total / 5) return;
            sampler?.Sample();
            var at = (rows, sampler?.CpuSeconds ?? 0, MachineCpu.Read());
            if (_from is null) _from = at;
            else if (rows >= total * 4 / 5) _to = at;
        }

        public double? PerMillion => sampler is not null && _from is { } f && _to is { } t && t.Rows > f.Rows ? (t.Cpu - f.Cpu) * 1e6 / (t.Rows - f.Rows) : null;

        /// <summary>How busy the whole machine was (all cores, every process) over the same rows.</summary>
        public double? MachineBusy => _from is { } f && _to is { } t ? t.Machine.BusySince(f.Machine) : null;
    }

    /// <summary>Waits past the worker's batch age, then counts rows and distinct messages: a redelivery written
    /// twice shows as rows above distinct.</summary>
    private static async Task<(long Rows, long Distinct)> SettleAndCountAsync(Env env, string table, CancellationToken ct)
    {
        await Task.Delay(1500, ct);
        var counts = (await env.Ch.Client.ScalarAsync($"SELECT concat(toString(count()), ' ', toString(uniqExact(seq))) FROM {table}", ct) ?? "0 0").Split(' ');
        return (long.Parse(counts[0], CultureInfo.InvariantCulture), long.Parse(counts[1], CultureInfo.InvariantCulture));
    }

    private static RunResult FromTable(string name, int round, long messages, Watch w, long rows, long distinct, double? cpu, Services svc, long? rss, string load, string? failure = null) =>
        Build(name, round, messages, w, distinct, rows - distinct, cpu, svc, rss, load, failure);

    private static RunResult FromCounts(string name, int round, long messages, Watch w, long distinct, long duplicates, double? cpu, Services svc, long? rss, string load, string? failure = null) =>
        Build(name, round, messages, w, distinct, duplicates, cpu, svc, rss, load, failure);

    private static RunResult Build(string name, int round, long messages, Watch w, long distinct, long duplicates, double? cpu, Services svc, long? rss, string load, string? failure)
    {
        var status = failure
            ?? (distinct < messages ? $"LOST {messages - distinct:N0} rows" : null)
            ?? (duplicates > 0 ? $"DUPLICATED {duplicates:N0} rows" : null)
            ?? (w.LastAt is null ? "no end seen" : "ok");
        // Drain: from the first row (message) seen to the last; one observation only (a single INSERT) has none.
        double? drain = w.FirstAt is { } f && w.LastAt is { } l && l > f && messages > w.FirstCount ? l - f : null;
        return new RunResult(name, round, status, distinct, duplicates, w.LastAt, drain, messages - w.FirstCount, cpu, svc.ClickHouse, svc.Kafka, svc.ZooKeeper, rss, load)
        {
            Series = w.Series,
            MiddleCpuPerMillion = w.MiddleCpuPerMillion,
            MiddleMachineBusy = w.MiddleMachineBusy,
        };
    }

    private static async Task WaitExitAsync(Process process, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            ChildProcesses.Kill(process);
        }
    }

    /// <summary>/usr/bin/time's "%U %S %M": exact CPU of everything the wrapper waited for, and the largest peak RSS.</summary>
    private static (double? Cpu, long? Rss) ReadTime(string file)
    {
        if (!File.Exists(file)) return (null, null);
        var line = File.ReadLines(file).LastOrDefault(l => l.Split(' ').Length == 3 && char.IsDigit(l[0]));
        if (line is null) return (null, null);
        var f = line.Split(' ');
        return (double.Parse(f[0], CultureInfo.InvariantCulture) + double.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture) * 1024);
    }

    /// <summary>kcat's "partition offset" lines: each partition is read in order, so an offset not above the last one
    /// seen there is a redelivery.</summary>
    private static (long Distinct, long Duplicates) CountOffsets(string log)
    {
        var next = new Dictionary<int, long>();
        long distinct = 0, duplicates = 0;
        foreach (var line in File.ReadLines(log))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var p) || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out var o)) continue;
            if (o < next.GetValueOrDefault(p)) duplicates++;
            else
            {
                distinct++;
                next[p] = o + 1;
            }
        }
        return (distinct, duplicates);
    }

    private static long LastProgress(string log)
    {
        try
        {
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var last = reader.ReadToEnd().Split('\n').LastOrDefault(l => l.StartsWith("progress ", StringComparison.Ordinal));
            return last is null ? 0 : long.Parse(last["progress ".Length..], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string ProgressLine(string name, int round, long done, long total, Stopwatch clock) =>
        $"side-by-side: round {round} {name,-12} {done,11:N0} / {total:N0}   {(clock.Elapsed.TotalSeconds > 0 ? done / clock.Elapsed.TotalSeconds : 0),9:N0} /s   {clock.Elapsed.TotalSeconds,5:0.0} s";

    private static TimeSpan? _lastPrint;

    /// <summary>A line rewritten in place on a terminal; one line every 2 s into a file or pipe.</summary>
    private static void Progress(string line, TimeSpan elapsed)
    {
        if (Interactive) Console.Write("\r" + line.PadRight(110));
        else if (_lastPrint is not { } last || elapsed < last || elapsed - last >= TimeSpan.FromSeconds(2))
        {
            Console.WriteLine(line);
            _lastPrint = elapsed;
        }
    }

    private static void EndProgress()
    {
        if (Interactive) Console.WriteLine();
        _lastPrint = null;
    }

    private static string Summary(RunResult r) => string.Create(CultureInfo.InvariantCulture,
        $"side-by-side: round {r.Round} {r.Contender,-12} {r.Status}: end to end {F(r.EndToEndSeconds, "0.00")} s = {F(r.EndToEndRowsPerSecond, "N0")} rows/s, " +
        $"drain {F(r.DrainRowsPerSecond, "N0")} rows/s, CPU-s per 1M: contender {F(r.ContenderCpuPerMillion, "0.00")} ({F(r.MiddleCpuPerMillion, "0.00")} from 20 to 80 % of the rows), ClickHouse {F(r.ClickHouseCpuPerMillion, "0.00")}, " +
        $"Kafka {F(r.KafkaCpuPerMillion, "0.00")}, ZooKeeper {F(r.ZooKeeperCpuPerMillion, "0.00")}, peak RSS {F(r.PeakRssBytes / 1e6, "0")} MB, machine busy {F(r.MiddleMachineBusy * 100, "0")} % from 20 to 80 %, load before {r.LoadBefore}");

    private static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "—";

    private sealed record Median(string Contender, int Ok, int Runs, double? EndToEndSeconds, double? EndToEndRowsPerSecond, double? DrainRowsPerSecond,
        double? ContenderCpuPerMillion, double? MiddleCpuPerMillion, double? ClickHouseCpuPerMillion, double? KafkaCpuPerMillion,
        double? ZooKeeperCpuPerMillion, double? PeakRssMegabytes, double? DrainVsBare, double? CpuVsBare, double? MiddleCpuVsBare, string Statuses)
    {
        public double? MiddleMachineBusy { get; init; }
    }

    private static List<Median> Medians(List<RunResult> results)
    {
        var medians = results.GroupBy(r => r.Contender).Select(g =>
        {
            var ok = g.Where(r => r.Status == "ok").ToList();
            return new Median(g.Key, ok.Count, g.Count(), Mid(ok.Select(r => r.EndToEndSeconds)), Mid(ok.Select(r => r.EndToEndRowsPerSecond)),
                Mid(ok.Select(r => r.DrainRowsPerSecond)), Mid(ok.Select(r => r.ContenderCpuPerMillion)), Mid(ok.Select(r => r.MiddleCpuPerMillion)),
                Mid(ok.Select(r => r.ClickHouseCpuPerMillion)), Mid(ok.Select(r => r.KafkaCpuPerMillion)),
                Mid(ok.Select(r => r.ZooKeeperCpuPerMillion)), Mid(ok.Select(r => r.PeakRssBytes / 1e6)), null, null, null,
                string.Join("; ", g.Select(r => r.Status).Distinct())) { MiddleMachineBusy = Mid(ok.Select(r => r.MiddleMachineBusy)) };
        }).ToList();
        var bare = medians.FirstOrDefault(m => m.Contender == "bare");
        return [.. medians.Select(m => m with
        {
            DrainVsBare = m.DrainRowsPerSecond / bare?.DrainRowsPerSecond,
            CpuVsBare = m.ContenderCpuPerMillion / bare?.ContenderCpuPerMillion,
            MiddleCpuVsBare = m.MiddleCpuPerMillion / bare?.MiddleCpuPerMillion,
        })];
    }

    private static double? Mid(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().Order().ToList();
        if (v.Count == 0) return null;
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    private static string Report(List<RunResult> results, long messages, int partitions, int rounds, DateTimeOffset started, IReadOnlyDictionary<string, string> workerSettings)
    {
        var sb = new StringBuilder();
        var overrides = workerSettings.Count == 0 ? "" : $"; worker settings {string.Join(", ", workerSettings.Select(kv => $"{kv.Key}={kv.Value}"))}";
        sb.AppendLine(CultureInfo.InvariantCulture, $"side-by-side, {started:yyyy-MM-dd HH:mm} UTC: {messages:N0} messages over {partitions} partitions, {rounds} round(s), " +
            $"{Environment.ProcessorCount} cores, load average at the end {LoadAverage()} (medians over the rounds whose row count was exact){overrides}");
        sb.AppendLine();
        sb.AppendLine("| contender | exact runs | end to end s | end to end rows/s | drain rows/s | contender CPU-s / 1M | … from 20 to 80 % of the rows | ClickHouse CPU-s / 1M | Kafka mock CPU-s / 1M | ZooKeeper CPU-s / 1M | peak RSS MB | drain vs bare | CPU vs bare | CPU 20–80 % vs bare | machine busy 20–80 % |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var m in Medians(results))
        {
            var who = (m.Ok == m.Runs ? Descriptions[m.Contender] : $"{Descriptions[m.Contender]} ({m.Statuses})").Replace("|", "\\|", StringComparison.Ordinal);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {who} | {m.Ok}/{m.Runs} | {F(m.EndToEndSeconds, "0.00")} | {F(m.EndToEndRowsPerSecond, "N0")} | {F(m.DrainRowsPerSecond, "N0")} | " +
                $"{(m.Contender == "kafka-engine" ? "(in ClickHouse)" : F(m.ContenderCpuPerMillion, "0.00"))} | {F(m.MiddleCpuPerMillion, "0.00")} | " +
                $"{F(m.ClickHouseCpuPerMillion, "0.00")} | {F(m.KafkaCpuPerMillion, "0.00")} | {F(m.ZooKeeperCpuPerMillion, "0.00")} | " +
                $"{F(m.PeakRssMegabytes, "0")} | {F(m.DrainVsBare * 100, "0' %'")} | {F(m.CpuVsBare, "0.00'×'")} | {F(m.MiddleCpuVsBare, "0.00'×'")} | {F(m.MiddleMachineBusy * 100, "0' %'")} |");
        }
        sb.AppendLine();
        sb.AppendLine("| round | contender | status | end to end s | drain rows/s | contender CPU-s | … per 1M, 20–80 % | ClickHouse CPU-s | Kafka CPU-s | ZooKeeper CPU-s | peak RSS MB | machine busy 20–80 % | load before |");
        sb.AppendLine("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Round} | {r.Contender} | {r.Status.Replace("|", "\\|", StringComparison.Ordinal)} | {F(r.EndToEndSeconds, "0.00")} | {F(r.DrainRowsPerSecond, "N0")} | " +
                $"{F(r.ContenderCpuSeconds, "0.00")} | {F(r.MiddleCpuPerMillion, "0.00")} | {F(r.ClickHouseCpuSeconds, "0.00")} | {F(r.KafkaCpuSeconds, "0.00")} | {F(r.ZooKeeperCpuSeconds, "0.00")} | {F(r.PeakRssBytes / 1e6, "0")} | {F(r.MiddleMachineBusy * 100, "0' %'")} | {r.LoadBefore} |");
        }
        return sb.ToString();
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // A file for people and scripts, not for a web page: "kcat | clickhouse-client" stays readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static string Json(List<RunResult> results, long messages, int partitions, int rounds, DateTimeOffset started, LatencyResult? latency,
        IReadOnlyDictionary<string, string> workerSettings) =>
        JsonSerializer.Serialize(new
        {
            Started = started,
            WorkerSettings = workerSettings,
            Messages = messages,
            Partitions = partitions,
            Rounds = rounds,
            Cores = Environment.ProcessorCount,
            LoadAverageAtEnd = LoadAverage(),
            Contenders = Descriptions,
            Medians = Medians(results),
            Runs = results,
            Latency = latency,
        }, JsonOptions);

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // a server may still be closing a file; the temp directory is cleaned eventually
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One contender's drain of the backlog. Rates are computed from the counts and times so that the JSON
/// carries both.</summary>
internal sealed record RunResult(string Contender, int Round, string Status, long DistinctRows, long DuplicateRows, double? EndToEndSeconds, double? DrainSeconds,
    long DrainRows, double? ContenderCpuSeconds, double? ClickHouseCpuSeconds, double? KafkaCpuSeconds, double? ZooKeeperCpuSeconds, long? PeakRssBytes, string LoadBefore)
{
    /// <summary>[seconds since start, rows] as observed, for the plot.</summary>
    public List<double[]> Series { get; init; } = [];

    public double? EndToEndRowsPerSecond => EndToEndSeconds is > 0 ? DistinctRows / EndToEndSeconds : null;

    public double? DrainRowsPerSecond => DrainSeconds is > 0 ? DrainRows / DrainSeconds : null;

    public double? ContenderCpuPerMillion => DistinctRows > 0 ? ContenderCpuSeconds * 1e6 / DistinctRows : null;

    /// <summary>The contender's CPU per million rows between 20 % and 80 % of them: once running, without the start-up
    /// that a 2.5M-message run spreads over every row (sampled from /proc, so known for every contender with a
    /// process of its own).</summary>
    public double? MiddleCpuPerMillion { get; init; }

    /// <summary>The machine's busy share (all cores, all processes: the contender, ClickHouse, the mock, the harness)
    /// over the same rows; near 1, no core was left for more threads.</summary>
    public double? MiddleMachineBusy { get; init; }

    public double? ClickHouseCpuPerMillion => DistinctRows > 0 ? ClickHouseCpuSeconds * 1e6 / DistinctRows : null;

    public double? KafkaCpuPerMillion => DistinctRows > 0 ? KafkaCpuSeconds * 1e6 / DistinctRows : null;

    public double? ZooKeeperCpuPerMillion => DistinctRows > 0 ? ZooKeeperCpuSeconds * 1e6 / DistinctRows : null;
}

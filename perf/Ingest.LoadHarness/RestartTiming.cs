using System.Diagnostics;
using System.Globalization;
using Ingest.LocalStack;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Prometheus;
using Ingest.LocalStack.Processes;

namespace Ingest.LoadHarness;

/// <summary>How long a worker process takes from start to its first INSERT: once on a fresh group, then again and again
/// right after the previous worker was killed with SIGKILL (its group member is then only forgotten when its session
/// expires). Messages keep arriving throughout; everything is bounded (rounds, per-step deadlines).</summary>
internal static class RestartTiming
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public static async Task<int> RunAsync(int rounds, int sessionTimeoutMs, string? instanceId, CancellationToken ct)
    {
        await using var stack = await Stack.StartAsync(Topology.Single, null, ct);
        var ch = stack.Node("ch");
        const string topic = "restart";
        stack.Kafka!.CreateTopic(topic, 8);
        const string table = "default.restart";
        await ch.Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) ENGINE = MergeTree ORDER BY (_partition, _offset)", ct: ct);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Region"] = "a",
            ["Ingest:Kafka:BootstrapServers"] = stack.KafkaBootstrap,
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = sessionTimeoutMs.ToString(CultureInfo.InvariantCulture),
            ["Ingest:ClickHouse:Endpoints:0"] = ch.HttpEndpoint.ToString(),
            ["Ingest:ClickHouse:Table"] = table,
            ["Ingest:Batching:MaxAge"] = "00:00:00.100",
        };
        if (instanceId is not null) settings["Ingest:Kafka:InstanceId"] = instanceId;
        Console.WriteLine($"restart: {rounds} rounds, session.timeout.ms {sessionTimeoutMs}, static membership {(instanceId is null ? "off" : $"on ({instanceId})")}, load {File.ReadAllText("/proc/loadavg")[..14]}");

        using var stopProducing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        long produced = 0;
        var producing = Task.Run(async () =>
        {
            while (!stopProducing.IsCancellationRequested)
            {
                produced += SampleEvents.Produce(stack.KafkaBootstrap, topic, produced, 200);
                await Task.Delay(50, CancellationToken.None);
            }
        }, CancellationToken.None);

        var results = new List<(string Kind, double Live, double Ready, double Insert)>();
        WorkerProcess? previous = null;
        try
        {
            for (var round = 0; round <= rounds; round++)
            {
                var kind = round == 0 ? "fresh group" : "after kill -9";
                var clock = Stopwatch.StartNew();
                var worker = await WorkerProcess.StartAsync(settings, Path.Combine(stack.Directory, $"worker-{round}.log"), ct);
                var live = clock.Elapsed.TotalSeconds;
                var ready = await UntilAsync(async () => (await Http.GetAsync(new Uri(worker.AdminEndpoint, "health/ready"), ct)).IsSuccessStatusCode, clock, ct);
                var insert = await UntilAsync(async () => PrometheusText.Sum(await worker.MetricsAsync(ct), "ingest_batches_inserted_total") > 0, clock, ct);
                results.Add((kind, live, ready, insert));
                Console.WriteLine($"restart: round {round} ({kind}): live {live:0.00} s, partitions assigned {ready:0.00} s, first INSERT {insert:0.00} s");
                // Let it work a moment, then kill it mid-stream; the next round starts at once.
                await Task.Delay(500, ct);
                worker.Kill();
                previous = worker;
            }
        }
        finally
        {
            await stopProducing.CancelAsync();
            await producing;
        }
        Console.WriteLine();
        Console.WriteLine("| start | live s | partitions assigned s | first INSERT s |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Kind))
        {
            var ordered = group.OrderBy(r => r.Insert).ToList();
            var median = ordered[ordered.Count / 2];
            Console.WriteLine($"| {group.Key} (median of {ordered.Count}) | {median.Live:0.00} | {median.Ready:0.00} | {median.Insert:0.00} |");
        }
        return 0;
    }

    /// <summary>Seconds on <paramref name="clock"/> when <paramref name="done"/> first holds (polled every 20 ms, 60 s at most).</summary>
    private static async Task<double> UntilAsync(Func<Task<bool>> done, Stopwatch clock, CancellationToken ct)
    {
        var deadline = clock.Elapsed + TimeSpan.FromSeconds(60);
        while (!await done())
        {
            if (clock.Elapsed > deadline) throw new TimeoutException("no progress within 60 s");
            await Task.Delay(20, ct);
        }
        return clock.Elapsed.TotalSeconds;
    }
}

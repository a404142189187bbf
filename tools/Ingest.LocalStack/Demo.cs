using System.Diagnostics;
using System.Globalization;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.Prometheus;

namespace Ingest.LocalStack;

/// <summary>The throughput run (`demo --throughput`): a real stack, the real worker process, sample events, a live progress line,
/// and a summary that fails (exit 1) unless every produced message is exactly one row.</summary>
internal static class Demo
{
    public static async Task<int> RunAsync(long messages, int partitions, string format, bool checkpoints, CancellationToken ct)
    {
        // The mock cluster keeps only the newest 5 MiB per partition; a worker that falls further behind would
        // silently lose the oldest messages, so the demo refuses sizes that could outrun it.
        const int bytesPerMessage = 130;
        var perPartition = messages * bytesPerMessage / partitions;
        if (perPartition > 4_500_000)
        {
            Console.Error.WriteLine($"demo: {messages:N0} messages over {partitions} partitions is ~{perPartition / 1e6:0.0} MB per partition, " +
                $"more than the mock Kafka cluster keeps (5 MiB per partition): use --partitions {messages * bytesPerMessage / 4_500_000 + 1} or more");
            return 2;
        }
        var total = Stopwatch.StartNew();
        Console.WriteLine($"demo: starting mock Kafka (3 brokers), ZooKeeper and ClickHouse 18.16 ...");
        // Region a of the independent topology: a ClickHouse with its own Keeper, so the table is replicated and
        // replays are deduplicated (exactly-once, docs/exactly-once.md).
        await using var stack = await Stack.StartAsync(Topology.Independent, new StackOptions(), ct);
        var ch = stack.Node("a1");
        const string topic = "events";
        stack.Kafka?.CreateTopic(topic, partitions);
        await ch.Client.ExecuteAsync("CREATE DATABASE IF NOT EXISTS demo", ct: ct);
        await ch.Client.ExecuteAsync(
            $"CREATE TABLE demo.events ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64) " +
            "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/demo.events', '{replica}') ORDER BY (event, ts) " +
            "SETTINGS replicated_deduplication_window = 1000", ct: ct);
        Console.WriteLine($"demo: Kafka {stack.KafkaBootstrap}, ClickHouse {ch.HttpEndpoint}, table demo.events, topic {topic} ({partitions} partitions)");

        await using var worker = await WorkerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Ingest:Region"] = "a",
            ["Ingest:Kafka:BootstrapServers"] = stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = "demo",
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Endpoints:0"] = ch.HttpEndpoint.ToString(),
            ["Ingest:ClickHouse:Table"] = "demo.events",
            ["Ingest:Batching:MaxAge"] = "00:00:00.500",
            ["Ingest:ClickHouse:Format"] = format,
            ["Ingest:Checkpoints:Enabled"] = checkpoints ? "true" : "false",
        }, Path.Combine(stack.Directory, "worker.log"), ct);
        Console.WriteLine($"demo: worker running (pid log {worker.LogFile}, admin {worker.AdminEndpoint}); producing {messages:N0} events");

        var sw = Stopwatch.StartNew();
        long produced = 0;
        var producer = Task.Run(() => SampleEvents.Produce(stack.KafkaBootstrap, topic, 0, messages, d => Interlocked.Exchange(ref produced, d), ct), ct);

        long rows = 0;
        var lastChange = Stopwatch.StartNew();
        var interactive = !Console.IsOutputRedirected;
        var lastPrint = TimeSpan.Zero;
        while (true)
        {
            await Task.Delay(250, ct);
            var now = long.Parse(await ch.Client.ScalarAsync("SELECT count() FROM demo.events", ct) ?? "0", CultureInfo.InvariantCulture);
            if (now != rows) lastChange.Restart();
            rows = now;
            if (producer.IsFaulted) await producer; // surfaces the produce error
            var line = $"demo: produced {Interlocked.Read(ref produced),11:N0}   rows in ClickHouse {rows,11:N0}   {rows / sw.Elapsed.TotalSeconds,9:N0} rows/s   {sw.Elapsed.TotalSeconds,5:0.0} s";
            if (interactive) Console.Write("\r" + line);
            else if (sw.Elapsed - lastPrint >= TimeSpan.FromSeconds(2))
            {
                Console.WriteLine(line);
                lastPrint = sw.Elapsed;
            }
            if (producer.IsCompletedSuccessfully && rows >= messages) break;
            if (worker.HasExited || lastChange.Elapsed > TimeSpan.FromSeconds(60)) break;
        }
        var elapsed = sw.Elapsed;
        if (interactive) Console.WriteLine();

        // Hold on past one batch age: a duplicate would show up as rows > messages.
        await Task.Delay(1500, ct);
        rows = long.Parse(await ch.Client.ScalarAsync("SELECT count() FROM demo.events", ct) ?? "0", CultureInfo.InvariantCulture);
        // Every message carries a unique seq; _partition/_offset name its Kafka coordinates (Native path).
        var distinct = long.Parse(await ch.Client.ScalarAsync("SELECT uniqExact(seq) FROM demo.events", ct) ?? "0", CultureInfo.InvariantCulture);
        var metrics = worker.HasExited ? "" : await worker.MetricsAsync(ct);
        var guarantees = PrometheusText.Samples(metrics, "ingest_exactly_once");
        var exactlyOnce = guarantees.Count > 0 && guarantees.All(g => g.Value == 1);
        var workerExit = worker.HasExited ? worker.ExitCode : await worker.StopAsync(TimeSpan.FromSeconds(30));
        var deliveredTotal = producer.IsCompletedSuccessfully ? producer.Result : Interlocked.Read(ref produced);

        Console.WriteLine();
        Console.WriteLine("demo summary");
        Console.WriteLine($"  insert format          {format,12}");
        Console.WriteLine($"  delivery               {(exactlyOnce ? "exactly-once" : "at-least-once"),12}   (checkpoints {(checkpoints ? "on" : "off")})");
        Console.WriteLine($"  messages produced      {deliveredTotal,12:N0}");
        Console.WriteLine($"  rows in ClickHouse     {rows,12:N0}");
        Console.WriteLine($"  distinct messages      {distinct,12:N0}");
        Console.WriteLine($"  elapsed (produce→rows) {elapsed.TotalSeconds,12:0.00} s");
        Console.WriteLine($"  rate                   {rows / elapsed.TotalSeconds,12:N0} rows/s");
        Console.WriteLine($"  worker exit code       {workerExit,12}");
        Console.WriteLine($"  total demo time        {total.Elapsed.TotalSeconds,12:0.0} s");
        var ok = deliveredTotal == messages && rows == messages && distinct == messages && workerExit == 0;
        Console.WriteLine(ok ? "demo: OK — every produced message is one row" : $"demo: FAILED — produced {deliveredTotal:N0}, rows {rows:N0}, worker exit {workerExit}; worker log:\n{Wait.Tail(worker.LogFile)}");
        return ok ? 0 : 1;
    }
}

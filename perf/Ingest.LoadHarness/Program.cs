using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Ingest.LocalStack;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Decoding;

// Ingest.LoadHarness [--rows N] [--batch-rows N] [--batches-per-insert N] [--passes N]
// Ingest.LoadHarness restart [--rounds N] [--session-timeout-ms MS] [--instance-id ID]   (see RestartTiming.cs)
// Ingest.LoadHarness side-by-side [--messages N] [--partitions P] [--rounds R] [--contenders a,b] [--results DIR]   (see SideBySide.cs)
// Starts a Single stack (ClickHouse 18.16 on loopback, no Kafka), creates default.sink ENGINE = Null, decodes the
// sample events once, then inserts them through the worker's real path (BatchesContent -> ClickHouseHttpClient)
// in Native and JSONEachRow, each with and without gzip, and prints wall and CPU time of this process (the
// client) and of the ClickHouse server process. Everything is bounded: a fixed number of passes per mode and a
// timeout on every insert; the stack is disposed at the end.
var rowsOption = CommandLineSupport.Number("--rows", "rows inserted per timed pass", 2_000_000, min: 1);
var batchRowsOption = CommandLineSupport.Number("--batch-rows", "rows per batch (must divide --rows)", 100_000, min: 1);
var batchesPerInsertOption = CommandLineSupport.Number("--batches-per-insert", "batches carried by one INSERT", 1, min: 1);
var passesOption = CommandLineSupport.Number("--passes", "timed passes per mode", 3, min: 1, max: 20);
var roundsOption = CommandLineSupport.Number("--rounds", "kill -9 and restart this many times", 5, min: 1, max: 50);
var sessionOption = CommandLineSupport.Number("--session-timeout-ms", "the workers' session.timeout.ms", 6000, min: 1000);
var instanceOption = new Option<string?>("--instance-id") { Description = "static group membership: the workers' Ingest:Kafka:InstanceId" };
var restart = new Command("restart", "Seconds from a worker process's start to its first INSERT, fresh and right after a kill -9 (the real worker, mock Kafka, ClickHouse 18.16)")
{
    roundsOption, sessionOption, instanceOption,
};
restart.SetAction(async (result, ct) => await Ingest.LoadHarness.RestartTiming.RunAsync(result.GetValue(roundsOption), result.GetValue(sessionOption), result.GetValue(instanceOption), ct));
var sbsMessages = CommandLineSupport.Number("--messages", "sample events in the backlog (about 130 bytes each; at most ~4.5 MB per partition)", 500_000L, min: 1);
var sbsPartitions = CommandLineSupport.Number("--partitions", "partitions of the topic", 16, min: 1, max: 1024);
var sbsRounds = CommandLineSupport.Number("--rounds", "rounds; the contenders' order is reversed every other round", 1, min: 1, max: 20);
var sbsContenders = new Option<string>("--contenders")
{
    Description = $"comma-separated, from {string.Join(",", Ingest.LoadHarness.SideBySide.AllContenders)} (and, when named, {string.Join(",", Ingest.LoadHarness.SideBySide.ExtraContenders)})",
    DefaultValueFactory = _ => string.Join(",", Ingest.LoadHarness.SideBySide.AllContenders),
};
sbsContenders.Validators.Add(result =>
{
    var unknown = (result.GetValueOrDefault<string>() ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
        .Except([.. Ingest.LoadHarness.SideBySide.AllContenders, .. Ingest.LoadHarness.SideBySide.ExtraContenders]).ToList();
    if (unknown.Count > 0) result.AddError($"--contenders: unknown {string.Join(", ", unknown)}");
});
var sbsResults = new Option<string>("--results")
{
    Description = "directory for results.md and results.json",
    DefaultValueFactory = _ => Path.Combine(Ingest.LocalStack.RepoPaths.Root, "perf", "results", $"side-by-side-{DateTime.UtcNow:yyyyMMdd-HHmmss}"),
};
var sbsKeep = new Option<bool>("--keep") { Description = "keep the services' directory (logs, data) afterwards" };
var sbsLatencySeconds = CommandLineSupport.Number("--latency-seconds", "after the drains, a live run of this many seconds: produce -> visible p50/p99 (0: none)", 0, min: 0, max: 600);
var sbsLatencyRate = new Option<double?>("--latency-rate") { Description = "messages a second for the latency run (default: half the exactly-once worker's drain rate)" };
var sbsWorkerSettings = new Option<string[]>("--worker-setting")
{
    Description = "KEY=VALUE for every Ingest worker run, repeatable: a configuration key (Ingest:Batching:MaxBytes=33554432) or an environment variable (DOTNET_TieredCompilation=0)",
};
sbsWorkerSettings.Validators.Add(result =>
{
    foreach (var bad in (result.GetValueOrDefault<string[]>() ?? []).Where(s => s.IndexOf('=', StringComparison.Ordinal) <= 0))
        result.AddError($"--worker-setting: '{bad}' is not KEY=VALUE");
});
var sideBySide = new Command("side-by-side", "One backlog in a mock Kafka process, drained by each contender alone (the Ingest worker, a bare C# loop, kcat, kcat | clickhouse-client, ClickHouse's Kafka engine): rates, CPU per million rows, peak RSS")
{
    sbsMessages, sbsPartitions, sbsRounds, sbsContenders, sbsResults, sbsKeep, sbsLatencySeconds, sbsLatencyRate, sbsWorkerSettings,
};
sideBySide.SetAction(async (result, ct) =>
{
    // Bounded as a whole; each contender is bounded on its own too.
    using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
    limit.CancelAfter(TimeSpan.FromMinutes(60));
    var list = result.GetRequiredValue(sbsContenders).Split(',', StringSplitOptions.RemoveEmptyEntries).Distinct().ToList();
    return await Ingest.LoadHarness.SideBySide.RunAsync(result.GetValue(sbsMessages), result.GetValue(sbsPartitions), result.GetValue(sbsRounds), list,
        result.GetRequiredValue(sbsResults), result.GetValue(sbsKeep), result.GetValue(sbsLatencySeconds), result.GetValue(sbsLatencyRate),
        (result.GetValue(sbsWorkerSettings) ?? []).Select(s => s.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]), limit.Token);
});
var consumeBootstrap = new Option<string>("--bootstrap") { Required = true };
var consumeTopic = new Option<string>("--topic") { Required = true };
var consumeGroup = new Option<string>("--group") { Required = true };
var consumeExpect = CommandLineSupport.Number("--expect", "messages to consume before exiting", 1L, min: 1);
var consumeMode = new Option<string>("--mode")
{
    Description = $"how messages are taken: {string.Join(", ", Ingest.LoadHarness.BareConsumer.Modes)}",
    DefaultValueFactory = _ => "confluent",
};
consumeMode.AcceptOnlyFromAmong(Ingest.LoadHarness.BareConsumer.Modes);
var consume = new Command("consume", "The side-by-side run's bare loop: the worker's consumer settings, messages discarded")
{
    consumeBootstrap, consumeTopic, consumeGroup, consumeExpect, consumeMode,
};
consume.Hidden = true;
consume.SetAction(result => Ingest.LoadHarness.BareConsumer.Run(result.GetRequiredValue(consumeBootstrap), result.GetRequiredValue(consumeTopic),
    result.GetRequiredValue(consumeGroup), result.GetValue(consumeExpect), stallSeconds: 30, result.GetValue(consumeMode)!));
var root = new RootCommand("Client and server cost of inserting pre-decoded batches into ENGINE = Null on a local ClickHouse 18.16")
{
    rowsOption, batchRowsOption, batchesPerInsertOption, passesOption, restart, sideBySide, consume,
};
var parsed = root.Parse(args);
// The root has no action of its own: an action here is --help or the usage error System.CommandLine prints.
if (parsed.Action is not null) return await CommandLineSupport.InvokeAsync(parsed);
var rows = parsed.GetValue(rowsOption);
var batchRows = parsed.GetValue(batchRowsOption);
var batchesPerInsert = parsed.GetValue(batchesPerInsertOption);
var passes = parsed.GetValue(passesOption);
// Checked here, not in a command validator: System.CommandLine runs those before options get their defaults.
if (rows % batchRows != 0)
{
    Console.Error.WriteLine($"--batch-rows {batchRows} must divide --rows {rows}");
    return 2;
}

using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(15));
Console.WriteLine($"harness: {rows:N0} rows in batches of {batchRows:N0}, {batchesPerInsert} batch(es) per INSERT, {passes} timed pass(es) per mode, {Environment.ProcessorCount} cores, load {LoadAverage()}");
await using var stack = await Stack.StartAsync(Topology.Single, new StackOptions { StartKafka = false }, cts.Token);
var ch = stack.Node("ch");
const string table = "default.sink";
await ch.Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}) ENGINE = Null", ct: cts.Token);
var schema = await TableSchema.LoadAsync(ch.Client, table, cts.Token);
var serverPid = Ingest.LoadHarness.ProcStat.FindClickHouse(Path.Combine(ch.Directory, "config.xml"));
Console.WriteLine($"harness: ClickHouse {await ch.Client.ScalarAsync("SELECT version()", cts.Token)} at {ch.HttpEndpoint} (pid {serverPid?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}), table {table} ENGINE = Null");

// Messages first (not measured), then the two decodes, measured for reference.
var messages = new byte[rows][];
for (var i = 0; i < rows; i++) messages[i] = SampleEvents.Message(i);
var partition = new TopicPartition("events", new Partition(0));
var (native, nativeDecode) = Fill(() => new NativeRowBuffer(new ColumnBatch(schema), new JsonRowDecoder(schema, new MappingOptions())));
var (json, jsonDecode) = Fill(() => new JsonRowsBuffer());
Console.WriteLine($"harness: decode into Native columns  {Rate(rows, nativeDecode.Wall),12} rows/s wall, {Rate(rows, nativeDecode.Cpu),12} rows/client-CPU-s");
Console.WriteLine($"harness: JSONEachRow validate+copy   {Rate(rows, jsonDecode.Wall),12} rows/s wall, {Rate(rows, jsonDecode.Cpu),12} rows/client-CPU-s");

// JSONEachRow needs the worker's setting: the sample events carry a "seq" field the table does not have.
var jsonSettings = new Dictionary<string, string> { ["input_format_skip_unknown_fields"] = "1" };
var results = new List<(string Mode, Sample Sample)>();
foreach (var (format, gzip) in new[] { ("Native", false), ("Native", true), ("JSONEachRow", false), ("JSONEachRow", true) })
{
    var batches = format == "Native" ? native : json;
    var settings = format == "Native" ? null : jsonSettings;
    var bodyBytes = await BodyLength(batches, gzip);
    var mode = $"{format}{(gzip ? "+gzip" : "")}";
    await InsertAll(batches, format, gzip, settings, batchRows); // warm-up: JIT, connection, server caches
    for (var pass = 1; pass <= passes; pass++)
    {
        var load = LoadAverage();
        var s = await Measure(() => InsertAll(batches, format, gzip, settings, rows));
        results.Add((mode, s));
        Console.WriteLine($"harness: {mode,-17} pass {pass}: {s.Wall.TotalSeconds,6:0.000} s wall, {Rate(rows, s.Wall),12} rows/s, " +
            $"client CPU {s.Cpu.TotalSeconds,6:0.000} s = {Rate(rows, s.Cpu),12} rows/CPU-s, server CPU {s.ServerCpu.TotalSeconds,6:0.000} s, " +
            $"body {bodyBytes / 1e6:0.0} MB{(gzip ? " gzipped" : "")}, client alloc {s.Allocated / 1e6:0.0} MB, load {load}");
    }
}

Console.WriteLine();
Console.WriteLine($"summary (median of {passes} pass(es), {rows:N0} rows, {batchRows:N0} rows per batch, {batchesPerInsert} batch(es) per INSERT, load now {LoadAverage()})");
Console.WriteLine("| mode | wall s | rows/s | client CPU s | rows per client CPU-s | server CPU s | client alloc MB |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach (var group in results.GroupBy(r => r.Mode))
{
    var m = group.Select(g => g.Sample).OrderBy(s => s.Wall).ElementAt(group.Count() / 2);
    Console.WriteLine($"| {group.Key} | {m.Wall.TotalSeconds:0.000} | {Rate(rows, m.Wall)} | {m.Cpu.TotalSeconds:0.000} | {Rate(rows, m.Cpu)} | {m.ServerCpu.TotalSeconds:0.000} | {m.Allocated / 1e6:0.0} |");
}
foreach (var b in native.Concat(json)) b.Rows.Dispose();
return 0;

// Decodes every message into rows/batchRows batches of the given buffer kind; measured.
(List<PartitionBatch> Batches, Sample Cost) Fill(Func<IRowBuffer> create)
{
    var batches = new List<PartitionBatch>();
    var cost = Measure(() =>
    {
        for (var b = 0; b < rows / batchRows; b++)
        {
            var batch = new PartitionBatch(partition, create());
            for (var i = b * batchRows; i < (b + 1) * batchRows; i++)
            {
                if (batch.Add(i, messages[i]) is { } error) throw new InvalidOperationException($"message {i}: {error}");
            }
            batches.Add(batch);
        }
        return Task.CompletedTask;
    }).GetAwaiter().GetResult();
    return (batches, cost);
}

// Inserts the first `count` rows' batches, batchesPerInsert per INSERT, one INSERT after the other as the worker does.
async Task InsertAll(List<PartitionBatch> batches, string format, bool gzip, Dictionary<string, string>? settings, long count)
{
    var take = (int)(count / batchRows);
    for (var i = 0; i < take; i += batchesPerInsert)
    {
        var group = batches.GetRange(i, Math.Min(batchesPerInsert, take - i));
        using var content = new BatchesContent(group, gzip);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await ch.Client.InsertAsync(table, format, content, settings, timeout.Token);
    }
}

async Task<Sample> Measure(Func<Task> action)
{
    GC.Collect();
    GC.WaitForPendingFinalizers();
    var cpu0 = ClientCpu();
    var server0 = ServerCpu();
    var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
    var sw = Stopwatch.StartNew();
    await action();
    var wall = sw.Elapsed;
    return new Sample(wall, ClientCpu() - cpu0, ServerCpu() - server0, GC.GetTotalAllocatedBytes(precise: true) - alloc0);
}

static TimeSpan ClientCpu()
{
    using var self = Process.GetCurrentProcess();
    return self.TotalProcessorTime;
}

// utime + stime of the ClickHouse server from /proc (it is a child of this process, under setpriv).
TimeSpan ServerCpu()
{
    if (serverPid is not { } pid) return TimeSpan.Zero;
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15, clock ticks of 1/100 s.
    var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    return TimeSpan.FromMilliseconds(ticks * 10);
}

// Bytes on the wire for all batches (compressed when gzip), written through the same BatchesContent.
static async Task<long> BodyLength(List<PartitionBatch> batches, bool gzip)
{
    using var content = new BatchesContent(batches, gzip);
    using var body = new MemoryStream();
    await content.CopyToAsync(body);
    return body.Length;
}

static string Rate(long count, TimeSpan time) => time > TimeSpan.Zero ? (count / time.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture) : "n/a";

static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0..3] is var l ? string.Join(' ', l) : "";

internal readonly record struct Sample(TimeSpan Wall, TimeSpan Cpu, TimeSpan ServerCpu, long Allocated);

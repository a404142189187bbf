using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.Prometheus;

namespace Ingest.LoadHarness;

/// <summary>Latency mode: a producer at a fixed rate into a topic of its own, the Ingest worker (exactly-once, the
/// drain runs' settings) consuming it live. Every message carries its number; about 200 a second are probes (event
/// "probe", kept apart by the table's sort key, so finding them reads a few granules) whose produce time the
/// harness keeps. ClickHouse is asked every 20 ms which probes are visible; a probe's latency is the start of the
/// first query that saw it minus the moment it was handed to the producer (so it includes the producer's 50 ms
/// linger and the 20 ms polling resolution).</summary>
internal static partial class SideBySide
{
    public const string LatencyTopic = "latency";

    private static readonly TimeSpan LatencyWarmUp = TimeSpan.FromSeconds(3);

    /// <summary>The latency topic's partitions: at most 16. A live producer with a 5 ms linger spread over 80
    /// partitions sends batches of ~10 messages, and the mock's CPU grows with the number of batches: at 138k
    /// messages/s it delivered only 52k/s and the run measured the mock's queue (p99 14 s).</summary>
    private static int LatencyPartitions(int partitions) => Math.Min(partitions, 16);

    internal sealed record LatencyResult(double Rate, double Seconds, double ProducedRate, long Produced, long Rows, long Distinct, int Probes, int ProbesSeen,
        double? P50Ms, double? P90Ms, double? P99Ms, double? MaxMs, double MaxAgeMs, string Status)
    {
        /// <summary>The machine's busy share (all cores, all processes) while measuring: the producer, the mock, the
        /// worker and ClickHouse share the cores, so a value near 1 means the rows queued for CPU.</summary>
        public double? MachineBusy { get; init; }

        /// <summary>The worker's data INSERTs while measuring, first attempt to acknowledgement, on average, and how
        /// many: part of what a row spends after its batch is sealed (besides its turn and the write-ahead).</summary>
        public double? MeanInsertMs { get; init; }

        public long? Inserts { get; init; }
    }

    /// <summary>The mock keeps only the newest 5 MiB per partition: a worker that falls that far behind finds its next
    /// offsets deleted, librdkafka resets them and the messages are skipped (counted by the worker). Said so, a lost
    /// row reads as what it is, the machine's limit at that rate, not a delivery bug.</summary>
    private static async Task<string> WhyLostAsync(WorkerProcess worker, CancellationToken ct)
    {
        try
        {
            var resets = PrometheusText.Sum(await worker.MetricsAsync(ct), "ingest_kafka_offset_resets_total");
            return resets > 0
                ? $" (the worker fell more than the mock's 5 MiB per partition behind: {resets:0} offset resets, the messages deleted unread)"
                : "";
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }

    /// <summary>The worker's INSERT time so far (seconds, count): ingest_insert_duration_seconds' sum and count.</summary>
    private static async Task<(double Seconds, long Count)> InsertTimesAsync(WorkerProcess worker, CancellationToken ct)
    {
        var text = await worker.MetricsAsync(ct);
        return (PrometheusText.Sum(text, "ingest_insert_duration_seconds_sum"), (long)PrometheusText.Sum(text, "ingest_insert_duration_seconds_count"));
    }

    private static async Task<LatencyResult> RunLatencyAsync(Env env, double rate, TimeSpan duration, CancellationToken ct)
    {
        var id = $"latency_{Guid.NewGuid().ToString("N")[..6]}";
        var table = await CreateTableAsync(env, id, ct);
        try
        {
            await using var worker = await WorkerProcess.StartAsync(WorkerSettings(env, id, table, LatencyTopic, checkpoints: true),
                Path.Combine(env.Dir, $"worker-{id}.log"), ct);
            var probeEvery = Math.Max(1, (long)(rate / 200));
            var sent = new ConcurrentDictionary<long, long>();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            long produced = 0;
            var measuredFrom = long.MaxValue;
            var producer = Task.Factory.StartNew(() => Produce(env.Bootstrap, rate, probeEvery, sent, ref produced, ref measuredFrom, stop.Token),
                ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            // The group join takes a few seconds: probes count only once rows flow and a warm-up has passed.
            var clock = Stopwatch.StartNew();
            while (await CountAsync(env, table, ct) == 0)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(60) || producer.IsCompleted) throw new InvalidOperationException("no row became visible within 60 s");
                await Task.Delay(100, ct);
            }
            await Task.Delay(LatencyWarmUp, ct);
            Interlocked.Exchange(ref measuredFrom, Interlocked.Read(ref produced));
            var latencies = new List<double>();
            var machineFrom = MachineCpu.Read();
            double? machineBusy = null;
            var insertsFrom = await InsertTimesAsync(worker, ct);
            (double Seconds, long Count) insertsTo = default;
            var measuring = Stopwatch.StartNew();
            var producedAtStart = Interlocked.Read(ref produced);
            double? producedRate = null;
            var lastSeen = Stopwatch.StartNew();
            while (true)
            {
                var stopping = measuring.Elapsed >= duration;
                if (stopping && !stop.IsCancellationRequested)
                {
                    producedRate = (Interlocked.Read(ref produced) - producedAtStart) / measuring.Elapsed.TotalSeconds;
                    machineBusy = MachineCpu.Read().BusySince(machineFrom);
                    insertsTo = await InsertTimesAsync(worker, ct);
                    await stop.CancelAsync();
                }
                var at = Stopwatch.GetTimestamp();
                var pending = sent.Keys.Where(k => k >= Interlocked.Read(ref measuredFrom)).DefaultIfEmpty(long.MaxValue).Min();
                if (pending != long.MaxValue)
                {
                    var seen = await env.Ch.Client.ScalarAsync($"SELECT arrayStringConcat(groupArray(toString(seq)), ',') FROM {table} WHERE event = 'probe' AND seq >= {pending}", ct) ?? "";
                    foreach (var s in seen.Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        if (!sent.TryRemove(long.Parse(s, CultureInfo.InvariantCulture), out var t)) continue;
                        latencies.Add(Stopwatch.GetElapsedTime(t, at).TotalMilliseconds);
                        lastSeen.Restart();
                    }
                }
                var left = sent.Keys.Count(k => k >= Interlocked.Read(ref measuredFrom));
                Progress($"side-by-side: latency {rate:N0} msg/s   {measuring.Elapsed.TotalSeconds,5:0.0} s   probes seen {latencies.Count:N0}, waiting {left:N0}", measuring.Elapsed);
                if (stopping && producer.IsCompleted && left == 0) break;
                if (stopping && lastSeen.Elapsed > Stall) break;
                await Task.Delay(20, ct);
            }
            EndProgress();
            await producer;
            var total = Interlocked.Read(ref produced);
            var probes = latencies.Count + sent.Keys.Count(k => k >= measuredFrom);
            var (rows, distinct) = await SettleAndCountAsync(env, table, ct);
            var status = distinct < total ? $"LOST {total - distinct:N0} rows{await WhyLostAsync(worker, ct)}" : rows > distinct ? $"DUPLICATED {rows - distinct:N0} rows"
                : latencies.Count < probes ? $"{probes - latencies.Count} probes never seen"
                : producedRate < 0.95 * rate ? $"the producer reached only {producedRate:N0} msg/s" : "ok";
            latencies.Sort();
            return new LatencyResult(rate, duration.TotalSeconds, producedRate ?? 0, total, rows, distinct, probes, latencies.Count, Percentile(latencies, 0.50),
                Percentile(latencies, 0.90), Percentile(latencies, 0.99), latencies.Count > 0 ? latencies[^1] : null, WorkerMaxAge.TotalMilliseconds, status)
            {
                MachineBusy = machineBusy,
                Inserts = insertsTo.Count - insertsFrom.Count,
                MeanInsertMs = insertsTo.Count > insertsFrom.Count ? (insertsTo.Seconds - insertsFrom.Seconds) * 1000 / (insertsTo.Count - insertsFrom.Count) : null,
            };
        }
        finally
        {
            await env.Ch.Client.ExecuteAsync($"DROP DATABASE IF EXISTS sbs_{id}", ct: ct);
        }
    }

    /// <summary>Paces messages at <paramref name="rate"/> a second (checked every millisecond) until cancelled; the
    /// probes' produce times go into <paramref name="sent"/> from <paramref name="measuredFrom"/> on.</summary>
    private static void Produce(string bootstrap, double rate, long probeEvery, ConcurrentDictionary<long, long> sent, ref long produced, ref long measuredFrom, CancellationToken ct)
    {
        using var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            // The mock answers a fetch with one producer batch per partition: with a 5 ms linger (~20 messages per
            // batch at 60k messages/s over 16 partitions) the consumer needed a fetch per 20 messages and the run
            // measured the mock (p50 1.4 s, p99 3.3 s); with 50 ms, p50 376 ms, p99 652 ms.
            LingerMs = 50,
            StickyPartitioningLingerMs = 0,
        }).Build();
        var buffer = new byte[256];
        var clock = Stopwatch.StartNew();
        long i = 0;
        while (!ct.IsCancellationRequested)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            if (i >= due)
            {
                Thread.Sleep(1);
                continue;
            }
            for (; i < due && !ct.IsCancellationRequested; i++)
            {
                var probe = i % probeEvery == 0;
                var length = probe
                    ? Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-01-01 00:00:00\",\"user_id\":0,\"event\":\"probe\",\"value\":0,\"tags\":[],\"seq\":{i}}}", buffer)
                    : SampleEvents.Write(i, buffer);
                if (probe && i >= Interlocked.Read(ref measuredFrom)) sent[i] = Stopwatch.GetTimestamp();
                while (true)
                {
                    try
                    {
                        producer.Produce(LatencyTopic, new Message<Null, byte[]> { Value = buffer[..length] });
                        break;
                    }
                    catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(1));
                    }
                }
                Interlocked.Increment(ref produced);
            }
            producer.Poll(TimeSpan.Zero);
        }
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static async Task<long> CountAsync(Env env, string table, CancellationToken ct) =>
        long.Parse(await env.Ch.Client.ScalarAsync($"SELECT count() FROM {table}", ct) ?? "0", CultureInfo.InvariantCulture);

    private static double? Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static string LatencyReport(LatencyResult r) => string.Create(CultureInfo.InvariantCulture,
        $"""
        Latency (produce → visible in ClickHouse): Ingest worker, checkpoints on, MergeTree, Batching:MaxAge {r.MaxAgeMs:0} ms, producer at {r.Rate:N0} msg/s (reached {r.ProducedRate:N0}) for {r.Seconds:0} s

        | messages | probes seen | p50 ms | p90 ms | p99 ms | max ms | target p99 (MaxAge + 250 ms) | data INSERTs, mean ms | machine busy | status |
        |---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
        | {r.Produced:N0} | {r.ProbesSeen:N0} / {r.Probes:N0} | {F(r.P50Ms, "0")} | {F(r.P90Ms, "0")} | {F(r.P99Ms, "0")} | {F(r.MaxMs, "0")} | {r.MaxAgeMs + 250:0} | {r.Inserts:N0}, {F(r.MeanInsertMs, "0")} | {F(r.MachineBusy * 100, "0' %'")} | {r.Status} |

        """);
}

using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Ingest.Pipeline;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;
using Ingest.Pipeline.Kafka;

namespace Ingest.LoadHarness;

/// <summary>The floor the worker is compared with: Confluent.Kafka's consumer built by the worker's own
/// <see cref="ConsumerSettings"/>, consuming the backlog and throwing every message away. It runs as its own process
/// (the `consume` verb) so that its CPU and memory are its own, and prints one result line for the side-by-side run.</summary>
internal static unsafe class BareConsumer
{
    /// <summary>How the loop takes messages: <c>confluent</c> (Confluent.Kafka's Consume, the value copied: the floor the
    /// worker's targets are set against), <c>in-place</c> (the worker's own KafkaConsumer: batch dequeue, value read in place),
    /// <c>batch</c> (rd_kafka_consume_batch_queue, up to 512 messages per call: what a batch dequeue would save), <c>decode</c>
    /// and <c>decode-2</c> (the batch loop decoding every message into Native columns, on one thread or two).</summary>
    public static readonly string[] Modes = ["confluent", "in-place", "batch", "decode", "decode-2"];

    public static int Run(string bootstrap, string topic, string group, long expect, int stallSeconds, string mode = "confluent")
    {
        var options = new IngestOptions { Region = "a" };
        options.Kafka.BootstrapServers = bootstrap;
        options.Kafka.Group = group;
        options.Kafka.Topics = [topic];
        // What the side-by-side run gives the worker too: quick rebalances on the mock cluster.
        options.Kafka.Properties["session.timeout.ms"] = "6000";
        var config = ConsumerSettings.Build(options);
        var counter = new Counter(expect);
        var stall = Stopwatch.StartNew();
        bool Going() => counter.Distinct < expect && stall.Elapsed < TimeSpan.FromSeconds(stallSeconds);
        switch (mode)
        {
            case "confluent":
            {
                // The payload is copied into a byte[] as the worker's deserializer did, then dropped.
                using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
                consumer.Subscribe(topic);
                while (Going())
                {
                    if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is not { } result) continue;
                    stall.Restart();
                    counter.Take(result.Partition.Value, result.Offset.Value, result.Message.Value.Length);
                }
                counter.Print(stall);
                consumer.Close();
                break;
            }
            case "in-place":
            {
                using var consumer = new KafkaConsumer(config, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new Ingest.Pipeline.Metrics.IngestMetrics(), timestamps: false);
                consumer.Subscribe([topic], new FromCommitted());
                while (Going())
                {
                    if (consumer.Consume(200) is not { } m) continue;
                    stall.Restart();
                    counter.Take(m.Partition.Partition.Value, m.Offset, consumer.Value.Length);
                }
                counter.Print(stall);
                consumer.Close();
                break;
            }
            case "batch":
            case "decode":
            case "decode-2":
            {
                // decode and decode-2 add what the worker's pipeline thread does per message, without the INSERTs: the
                // JSON decoded into pooled Native columns (one batch per decode thread, cleared every 100,000 rows as if
                // sealed). decode-2 decodes the second half of every dequeued batch on a second thread while this one
                // decodes the first (halves, not partitions: librdkafka hands out long runs of one partition, so a split
                // by partition leaves one thread idle most of the time); consecutive ranges of one partition in two
                // batches are what the worker's batches are anyway. The best case for decoding on two cores.
                var threads = mode switch { "decode" => 1, "decode-2" => 2, _ => 0 };
                // The side-by-side table's columns as DESCRIBE TABLE lists them (name, type, no default).
                var schema = TableSchema.Parse("sbs.events",
                    string.Concat(SideBySide.TableColumns.Split(", ").Select(c => c.Replace(' ', '\t') + "\t\t\n")));
                var decoders = Enumerable.Range(0, threads).Select(_ => new Decoder(schema, topic)).ToArray();
                using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).Build();
                consumer.Subscribe(topic);
                var handle = Librdkafka.HandleOf(consumer) ?? throw new InvalidOperationException("librdkafka's handle is not reachable");
                var queue = Librdkafka.QueueGetConsumer(handle.DangerousGetHandle());
                var messages = new Librdkafka.Message*[512];
                using var helper = threads == 2 ? new Helper(decoders[1]) : null;
                fixed (Librdkafka.Message** batch = messages)
                {
                    while (Going())
                    {
                        var n = (int)Librdkafka.ConsumeBatchQueue(queue, 200, batch, (nuint)messages.Length);
                        if (n <= 0) continue;
                        stall.Restart();
                        if (threads > 0)
                        {
                            var half = threads == 1 ? n : n / 2;
                            helper?.Start(batch + half, n - half);
                            decoders[0].Decode(batch, half);
                            helper?.Join();
                        }
                        for (var i = 0; i < n; i++)
                        {
                            var m = batch[i];
                            if (m->Err == 0) counter.Take(m->Partition, m->Offset, (long)m->Length);
                            Librdkafka.MessageDestroy(m);
                        }
                    }
                }
                Librdkafka.QueueDestroy(queue);
                counter.Print(stall);
                var rejected = decoders.Sum(d => d.Rejected);
                if (rejected > 0) throw new InvalidOperationException($"{rejected} messages did not decode");
                consumer.Close();
                foreach (var d in decoders) d.Dispose();
                break;
            }
            default:
                throw new ArgumentException($"--mode: '{mode}' is not one of {string.Join(", ", Modes)}");
        }
        return counter.Distinct == expect && counter.Duplicates == 0 ? 0 : 1;
    }

    /// <summary>One decode thread's columns.</summary>
    private sealed class Decoder(TableSchema schema, string topic) : IDisposable
    {
        private readonly ColumnBatch _columns = new(schema);
        private readonly JsonRowDecoder _decoder = new(schema, new MappingOptions());

        public long Rejected { get; private set; }

        public void Decode(Librdkafka.Message** batch, int count)
        {
            for (var i = 0; i < count; i++)
            {
                var m = batch[i];
                if (m->Err != 0) continue;
                var value = new ReadOnlySpan<byte>(m->Payload, (int)m->Length);
                if (_decoder.Decode(value, _columns, new MessageSource(topic, m->Partition, m->Offset, 0)) is not null) Rejected++;
                if (_columns.Rows >= 100_000) _columns.Clear();
            }
        }

        public void Dispose() => _columns.Dispose();
    }

    /// <summary>The second decode thread, handed each dequeued batch and joined before its messages are destroyed.</summary>
    private sealed class Helper : IDisposable
    {
        private readonly SemaphoreSlim _go = new(0), _done = new(0);
        private readonly Thread _thread;
        private Librdkafka.Message** _batch;
        private int _count;
        private volatile bool _stop;

        public Helper(Decoder decoder)
        {
            _thread = new Thread(() =>
            {
                while (true)
                {
                    _go.Wait();
                    if (_stop) return;
                    decoder.Decode(_batch, _count);
                    _done.Release();
                }
            }) { IsBackground = true, Name = "decode-2" };
            _thread.Start();
        }

        public void Start(Librdkafka.Message** batch, int count)
        {
            _batch = batch;
            _count = count;
            _go.Release();
        }

        public void Join() => _done.Wait();

        public void Dispose()
        {
            _stop = true;
            _go.Release();
            _thread.Join();
            _go.Dispose();
            _done.Dispose();
        }
    }

    /// <summary>Every partition from Kafka's committed offset (a fresh group: the earliest).</summary>
    private sealed class FromCommitted : IRebalanceListener
    {
        public IReadOnlyList<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartition> partitions) =>
            [.. partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset))];

        public void OnRevoked(IReadOnlyList<TopicPartition> partitions)
        {
        }

        public void OnLost(IReadOnlyList<TopicPartition> partitions)
        {
        }
    }

    /// <summary>Per partition the next offset expected: a message below it is a redelivery, counted apart so that a
    /// loop that saw some messages twice cannot pass for one that saw each once.</summary>
    private sealed class Counter(long expect)
    {
        private readonly Dictionary<int, long> _next = [];
        private long _bytes, _firstMs;

        public long Distinct { get; private set; }

        public long Duplicates { get; private set; }

        public void Take(int partition, long offset, long length)
        {
            if (_firstMs == 0) _firstMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _bytes += length;
            if (offset < _next.GetValueOrDefault(partition))
            {
                Duplicates++;
                return;
            }
            Distinct++;
            _next[partition] = offset + 1;
            // Read by the side-by-side run for its progress line; rare enough to cost nothing.
            if ((Distinct & 0xFFFF) == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"progress {Distinct}"));
        }

        public void Print(Stopwatch stall)
        {
            // A run that stalled ended with its last message, not with the wait after it.
            var lastMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (Distinct < expect ? stall.ElapsedMilliseconds : 0);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"result distinct={Distinct} duplicates={Duplicates} bytes={_bytes} first_unix_ms={_firstMs} last_unix_ms={lastMs}"));
        }
    }
}

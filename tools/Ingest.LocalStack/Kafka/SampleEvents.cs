using System.Text;
using Confluent.Kafka;

namespace Ingest.LocalStack.Kafka;

/// <summary>Produces the reference events (ts DateTime, user_id UInt64, event String, value Float64,
/// tags Array(String)) as one JSON object per message, ~100-120 bytes each.</summary>
public static class SampleEvents
{
    public const string TableColumns = "ts DateTime, user_id UInt64, event String, value Float64, tags Array(String)";

    private static readonly string[] Events = ["click", "view", "purchase", "signup", "logout", "search"];
    private static readonly string[] Tags = ["mobile", "web", "beta", "eu", "us", "promo", "returning"];

    /// <summary>Message <paramref name="i"/>: deterministic, so a test can recompute what it sent.</summary>
    public static int Write(long i, Span<byte> destination)
    {
        var ts = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(i % 31_536_000);
        var s = $"{{\"ts\":\"{ts:yyyy-MM-dd HH:mm:ss}\",\"user_id\":{1_000_000 + (i * 7919 % 100_000)},\"event\":\"{Events[i % Events.Length]}\",\"value\":{(i % 10_000) / 100.0:0.00},\"tags\":[\"{Tags[i % Tags.Length]}\",\"{Tags[(i / 7) % Tags.Length]}\"],\"seq\":{i}}}";
        return Encoding.UTF8.GetBytes(s, destination);
    }

    public static byte[] Message(long i)
    {
        Span<byte> buffer = stackalloc byte[256];
        return buffer[..Write(i, buffer)].ToArray();
    }

    /// <summary>Producer settings for sample events: acks from every replica, large batches, and null-key messages
    /// spread over every partition as they go (the default sticky partitioner fills one partition at a time, and the
    /// mock keeps only 5 MiB per partition).</summary>
    public static ProducerConfig DefaultConfig(string bootstrap) => new()
    {
        BootstrapServers = bootstrap,
        Acks = Acks.All,
        LingerMs = 5,
        BatchSize = 1_000_000,
        StickyPartitioningLingerMs = 0,
        QueueBufferingMaxMessages = 1_000_000,
    };

    /// <summary>Produces messages [first, first+count) to <paramref name="topic"/>, spread over partitions; returns
    /// the number acknowledged by the brokers (throws if any delivery failed). <paramref name="config"/>: other producer
    /// settings (its bootstrap servers are set here), e.g. larger batches for a backlog.</summary>
    public static long Produce(string bootstrap, string topic, long first, long count, Action<long>? progress = null, CancellationToken ct = default,
        ProducerConfig? config = null)
    {
        if (config is not null) config.BootstrapServers = bootstrap;
        using var producer = new ProducerBuilder<Null, byte[]>(config ?? DefaultConfig(bootstrap)).Build();
        return Produce(producer, topic, first, count, progress, ct);
    }

    /// <summary>The same through a producer the caller keeps (one client for many calls instead of a connection
    /// set-up per call).</summary>
    public static long Produce(IProducer<Null, byte[]> producer, string topic, long first, long count, Action<long>? progress = null,
        CancellationToken ct = default)
    {
        long delivered = 0;
        Error? failure = null;
        void OnDelivery(DeliveryReport<Null, byte[]> r)
        {
            if (r.Error.IsError) failure ??= r.Error;
            else Interlocked.Increment(ref delivered);
        }
        for (var i = first; i < first + count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var message = new Message<Null, byte[]> { Value = Message(i) };
            while (true)
            {
                try
                {
                    producer.Produce(topic, message, OnDelivery);
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
            if ((i & 0x3FFF) == 0) progress?.Invoke(Interlocked.Read(ref delivered));
        }
        producer.Flush(ct);
        if (failure is not null) throw new KafkaException(failure);
        progress?.Invoke(delivered);
        return delivered;
    }
}

using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Ingest.Pipeline;
using Ingest.Pipeline.Kafka;

namespace Ingest.LoadHarness;

/// <summary>The floor the worker is compared with: Confluent.Kafka's consumer built by the worker's own
/// <see cref="ConsumerSettings"/>, consuming the backlog and throwing every message away. It runs as its own process
/// (the `consume` verb) so that its CPU and memory are its own, and prints one result line for the side-by-side run.</summary>
internal static class BareConsumer
{
    public static int Run(string bootstrap, string topic, string group, long expect, int stallSeconds)
    {
        var options = new IngestOptions { Region = "a" };
        options.Kafka.BootstrapServers = bootstrap;
        options.Kafka.Group = group;
        options.Kafka.Topics = [topic];
        // What the side-by-side run gives the worker too: quick rebalances on the mock cluster.
        options.Kafka.Properties["session.timeout.ms"] = "6000";
        // The payload is copied into a byte[] as the worker's deserializer does, then dropped.
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(ConsumerSettings.Build(options)).Build();
        consumer.Subscribe(topic);

        // Per partition the next offset expected: a message below it is a redelivery, counted apart so that a loop
        // that saw some messages twice cannot pass for one that saw each once.
        var next = new Dictionary<int, long>();
        long distinct = 0, duplicates = 0, bytes = 0;
        long firstMs = 0, firstCpuMs = 0;
        var stall = Stopwatch.StartNew();
        while (distinct < expect && stall.Elapsed < TimeSpan.FromSeconds(stallSeconds))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null) continue;
            stall.Restart();
            if (firstMs == 0)
            {
                firstMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                firstCpuMs = (long)Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
            }
            bytes += result.Message.Value.Length;
            var p = result.Partition.Value;
            var offset = result.Offset.Value;
            if (offset < next.GetValueOrDefault(p)) duplicates++;
            else
            {
                distinct++;
                next[p] = offset + 1;
                // Read by the side-by-side run for its progress line; rare enough to cost nothing.
                if ((distinct & 0xFFFF) == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"progress {distinct}"));
            }
        }
        // A run that stalled ended with its last message, not with the wait after it.
        var lastMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (distinct < expect ? stall.ElapsedMilliseconds : 0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"result distinct={distinct} duplicates={duplicates} bytes={bytes} first_unix_ms={firstMs} first_cpu_ms={firstCpuMs} last_unix_ms={lastMs}"));
        consumer.Close();
        return distinct == expect && duplicates == 0 ? 0 : 1;
    }
}

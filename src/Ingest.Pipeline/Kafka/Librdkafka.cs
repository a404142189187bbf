using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Ingest.Pipeline.Kafka;

/// <summary>The few librdkafka functions the consume loop calls itself (rdkafka.h, librdkafka 2.16.0), bound to the
/// very file Confluent.Kafka loaded, so the process holds one librdkafka.</summary>
internal static unsafe partial class Librdkafka
{
    private const string Lib = "librdkafka";

    private static readonly Lazy<string> LoadedPath = new(FindLibraryConfluentKafkaLoaded);

    // librdkafka.redist ships two glibc builds for linux-x64: the generic librdkafka.so needs libsasl2.so.3, which
    // Debian 12 lacks (its libsasl2-2 is libsasl2.so.2), so it fails to load there; centos8-librdkafka.so needs only
    // glibc, and Confluent.Kafka falls back to it. A plain [LibraryImport("librdkafka")] probes the generic one only
    // and fails: the resolver binds to the file Confluent.Kafka mapped instead.
    static Librdkafka() => NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, Resolve);

    /// <summary>The librdkafka file these functions call (and Confluent.Kafka uses).</summary>
    internal static string LibraryPath => LoadedPath.Value;

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Lib ? NativeLibrary.Load(LoadedPath.Value) : IntPtr.Zero;

    private static string FindLibraryConfluentKafkaLoaded()
    {
        Library.Load();
        // dlopen records the path it mapped; /proc/self/maps names every mapped file (field 6).
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && line.EndsWith("librdkafka.so", StringComparison.Ordinal)) return line[slash..];
        }
        throw new DllNotFoundException($"Confluent.Kafka loaded librdkafka {Library.VersionString}, but no *librdkafka.so is mapped in this process");
    }

    /// <summary>The rd_kafka_t of a Confluent.Kafka client. Confluent.Kafka keeps it in an internal property
    /// (Handle.LibrdkafkaHandle, a SafeHandle); null when a later release renamed it, and the caller then stays on
    /// Confluent.Kafka's own Consume.</summary>
    internal static SafeHandle? HandleOf(IClient client) =>
        typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(client.Handle) as SafeHandle;

    /// <summary>rd_kafka_message_t: err, rkt, partition, payload, len, key, key_len, offset, _private.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Message
    {
        public int Err;
        public IntPtr Topic;
        public int Partition;
        public byte* Payload;
        public nuint Length;
        public IntPtr Key;
        public nuint KeyLength;
        public long Offset;
        public IntPtr Private;
    }

    [LibraryImport(Lib, EntryPoint = "rd_kafka_consumer_poll")]
    internal static partial Message* ConsumerPoll(IntPtr rk, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_message_destroy")]
    internal static partial void MessageDestroy(Message* message);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_message_timestamp")]
    internal static partial long MessageTimestamp(Message* message, out int type);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_topic_name")]
    internal static partial IntPtr TopicName(IntPtr rkt);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_queue_get_consumer")]
    internal static partial IntPtr QueueGetConsumer(IntPtr rk);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_queue_destroy")]
    internal static partial void QueueDestroy(IntPtr queue);

    /// <summary>Up to <paramref name="size"/> messages into <paramref name="messages"/>, in order, serving callbacks
    /// (rebalances) on the way; returns how many, or -1. It waits until the array is full or the time is up.</summary>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_consume_batch_queue")]
    internal static partial nint ConsumeBatchQueue(IntPtr queue, int timeoutMs, Message** messages, nuint size);
}

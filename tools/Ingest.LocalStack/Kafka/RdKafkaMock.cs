using System.Reflection;
using System.Runtime.InteropServices;
using Ingest.Pipeline.Kafka;

namespace Ingest.LocalStack.Kafka;

/// <summary>librdkafka's mock cluster API (src/rdkafka_mock.h, librdkafka 2.16.0), bound to the very file
/// Confluent.Kafka loaded from librdkafka.redist.</summary>
internal static partial class RdKafkaMock
{
    private const string Lib = "librdkafka";

    // Bound to the file Confluent.Kafka loaded (see Librdkafka: the generic build does not load on Debian 12), so the
    // mock runs the same build the clients do.
    static RdKafkaMock() => NativeLibrary.SetDllImportResolver(typeof(RdKafkaMock).Assembly, Resolve);

    /// <summary>The librdkafka file these functions call (and Confluent.Kafka uses).</summary>
    internal static string LibraryPath => Librdkafka.LibraryPath;

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Lib ? NativeLibrary.Load(LibraryPath) : IntPtr.Zero;

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    /// <summary>type 0 = RD_KAFKA_PRODUCER. Takes ownership of conf on success.</summary>
    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_err2str(int err);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_version_str();
}

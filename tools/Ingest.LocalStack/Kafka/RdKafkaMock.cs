using System.Reflection;
using System.Runtime.InteropServices;

namespace Ingest.LocalStack.Kafka;

/// <summary>librdkafka's mock cluster API (src/rdkafka_mock.h, librdkafka 2.16.0), bound to the very file
/// Confluent.Kafka loaded from librdkafka.redist.</summary>
internal static partial class RdKafkaMock
{
    private const string Lib = "librdkafka";

    private static readonly Lazy<string> LoadedPath = new(FindLibraryConfluentKafkaLoaded);

    // librdkafka.redist ships two glibc builds for linux-x64: the generic librdkafka.so needs libsasl2.so.3, which
    // Debian 12 lacks (its libsasl2-2 is libsasl2.so.2), so it fails to load there ("libsasl2.so.3: cannot open
    // shared object file"); centos8-librdkafka.so needs only glibc, and Confluent.Kafka falls back to it. A plain
    // [LibraryImport("librdkafka")] probes the generic one only and fails. Letting Confluent.Kafka choose and binding
    // to the file it mapped keeps one librdkafka in the process, so the mock runs the same build the clients do.
    static RdKafkaMock() => NativeLibrary.SetDllImportResolver(typeof(RdKafkaMock).Assembly, Resolve);

    /// <summary>The librdkafka file these functions call (and Confluent.Kafka uses).</summary>
    internal static string LibraryPath => LoadedPath.Value;

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Lib ? NativeLibrary.Load(LoadedPath.Value) : IntPtr.Zero;

    private static string FindLibraryConfluentKafkaLoaded()
    {
        Confluent.Kafka.Library.Load();
        // dlopen records the path it mapped; /proc/self/maps names every mapped file (field 6).
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && line.EndsWith("librdkafka.so", StringComparison.Ordinal)) return line[slash..];
        }
        throw new DllNotFoundException(
            $"Confluent.Kafka loaded librdkafka {Confluent.Kafka.Library.VersionString}, but no *librdkafka.so is mapped in this process");
    }

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

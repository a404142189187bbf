using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace Ingest.LocalStack.Kafka;

/// <summary>librdkafka's mock Kafka cluster: the real Kafka protocol on loopback TCP ports, reachable from any
/// client in any process (Confluent.Kafka, kcat, the worker). Limits measured here: it keeps only the newest
/// 5 MiB per partition (size tests by partitions or produce while consuming), topics must be made with
/// <see cref="CreateTopic"/> (CreateTopics is unreliable there), and group rebalances want session.timeout.ms≈6000.</summary>
public sealed class MockKafkaCluster : IDisposable
{
    private readonly IntPtr _rk;
    private IntPtr _cluster;

    private MockKafkaCluster(IntPtr rk, IntPtr cluster, int brokers)
    {
        _rk = rk;
        _cluster = cluster;
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(RdKafkaMock.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("mock cluster has no bootstrap servers");
    }

    public string BootstrapServers { get; }

    public int Brokers { get; }

    /// <summary>The librdkafka file the mock runs in: the one Confluent.Kafka loaded (on Debian 12 the
    /// <c>centos8-librdkafka.so</c> build of librdkafka.redist).</summary>
    public static string NativeLibraryPath => RdKafkaMock.LibraryPath;

    /// <summary>rd_kafka_version_str() of <see cref="NativeLibraryPath"/>.</summary>
    public static string NativeLibraryVersion => Marshal.PtrToStringUTF8(RdKafkaMock.rd_kafka_version_str()) ?? "";

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers (ids 1..n) on free loopback ports.
    /// <paramref name="groupInitialRebalanceDelayMs"/>: how long a new consumer group's first rebalance waits for more
    /// members. With the mock's own default, 3000 (Kafka's group.initial.rebalance.delay.ms), every first join took
    /// 3.07 s here from subscribe to assignment; with 0, 0.06–0.10 s. Pass 3000 to test members that start together
    /// and should share the first assignment.</summary>
    public static MockKafkaCluster Start(int brokers = 3, int groupInitialRebalanceDelayMs = 0)
    {
        var errstr = new byte[512];
        var conf = RdKafkaMock.rd_kafka_conf_new();
        // The handle only hosts the cluster; quiet its own logging (it would print every mock connection).
        RdKafkaMock.rd_kafka_conf_set(conf, "log_level", "3", errstr, (nuint)errstr.Length);
        var rk = RdKafkaMock.rd_kafka_new(0, conf, errstr, (nuint)errstr.Length);
        if (rk == IntPtr.Zero)
        {
            RdKafkaMock.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Encoding.UTF8.GetString(errstr).TrimEnd('\0')}");
        }
        var cluster = RdKafkaMock.rd_kafka_mock_cluster_new(rk, brokers);
        if (cluster == IntPtr.Zero)
        {
            RdKafkaMock.rd_kafka_destroy(rk);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }
        RdKafkaMock.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, groupInitialRebalanceDelayMs);
        return new MockKafkaCluster(rk, cluster, brokers);
    }

    public void CreateTopic(string topic, int partitions, int replicationFactor = 1) =>
        Check(RdKafkaMock.rd_kafka_mock_topic_create(_cluster, topic, partitions, replicationFactor), $"create topic {topic}");

    /// <summary>The broker stops answering: its connections are closed and new ones refused.</summary>
    public void SetBrokerDown(int brokerId) => Check(RdKafkaMock.rd_kafka_mock_broker_set_down(_cluster, brokerId), $"broker {brokerId} down");

    public void SetBrokerUp(int brokerId) => Check(RdKafkaMock.rd_kafka_mock_broker_set_up(_cluster, brokerId), $"broker {brokerId} up");

    /// <summary>Delays every response of the broker by <paramref name="rttMs"/>.</summary>
    public void SetBrokerRtt(int brokerId, int rttMs) => Check(RdKafkaMock.rd_kafka_mock_broker_set_rtt(_cluster, brokerId, rttMs), $"broker {brokerId} rtt");

    /// <summary>The next requests of <paramref name="apiKey"/> (e.g. 1 = Fetch, 8 = OffsetCommit) fail with these errors, in order.</summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors) =>
        RdKafkaMock.rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (nuint)errors.Length, errors.Select(e => (int)e).ToArray());

    public void ClearRequestErrors(short apiKey) => RdKafkaMock.rd_kafka_mock_clear_request_errors(_cluster, apiKey);

    /// <summary>How long a new group's first rebalance waits to gather members (set at <see cref="Start"/>).</summary>
    public void SetGroupInitialRebalanceDelay(int delayMs) => RdKafkaMock.rd_kafka_mock_group_initial_rebalance_delay_ms(_cluster, delayMs);

    private static void Check(int err, string what)
    {
        if (err != 0)
            throw new InvalidOperationException($"mock cluster: {what} failed: {Marshal.PtrToStringUTF8(RdKafkaMock.rd_kafka_err2str(err))} ({err})");
    }

    public void Dispose()
    {
        if (_cluster == IntPtr.Zero) return;
        RdKafkaMock.rd_kafka_mock_cluster_destroy(_cluster);
        RdKafkaMock.rd_kafka_destroy(_rk);
        _cluster = IntPtr.Zero;
    }
}

using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Ingest.LocalStack;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Services;

/// <summary>The mock Kafka cluster is real Kafka protocol over TCP: Confluent.Kafka and kcat (another process) both
/// produce to and consume from it, and its fault hooks take effect.</summary>
public sealed class KafkaStackTests(ITestOutputHelper output) : IDisposable
{
    private readonly MockKafkaCluster _kafka = MockKafkaCluster.Start(3);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public void ConfluentKafka_produces_and_a_consumer_group_reads_every_message()
    {
        const string topic = "roundtrip";
        _kafka.CreateTopic(topic, 4);
        const int count = 2000;
        var delivered = SampleEvents.Produce(_kafka.BootstrapServers, topic, 0, count);
        Assert.Equal(count, delivered);

        var seen = ConsumeAll(topic, "g-roundtrip", count);

        Assert.Equal(count, seen.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetString(SampleEvents.Message(i))).Order(), seen.Order());
    }

    [Fact]
    public void Kcat_in_another_process_produces_and_consumes_through_the_mock_cluster()
    {
        const string topic = "kcat";
        _kafka.CreateTopic(topic, 2);

        // kcat produces 50 lines; Confluent.Kafka reads them.
        var lines = Enumerable.Range(0, 50).Select(i => $"{{\"from\":\"kcat\",\"i\":{i}}}").ToArray();
        var (produceExit, produceErr) = Kcat(["-P", "-t", topic, "-X", "sticky.partitioning.linger.ms=0"], string.Join('\n', lines) + "\n");
        Assert.True(produceExit == 0, $"kcat -P failed: {produceErr}");
        Assert.Equal(lines.Order(), ConsumeAll(topic, "g-kcat", lines.Length).Order());

        // Confluent.Kafka produces 30 more; kcat reads all 80 to the end of the topic.
        Assert.Equal(30, SampleEvents.Produce(_kafka.BootstrapServers, topic, 0, 30));
        var (consumeExit, output) = Kcat(["-C", "-t", topic, "-o", "beginning", "-e", "-q"], null);
        Assert.Equal(0, consumeExit);
        var consumed = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(80, consumed.Length);
        Assert.Equal(50, consumed.Count(l => l.Contains("\"from\":\"kcat\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Pushed_request_errors_reach_the_client()
    {
        const string topic = "faults";
        _kafka.CreateTopic(topic, 1);
        // Produce = ApiKey 0; a non-retryable error must fail the delivery with exactly that error.
        // (Not a topic-level error such as authorization: librdkafka would cache it for the topic.)
        _kafka.PushRequestErrors(0, ErrorCode.MsgSizeTooLarge);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, MessageTimeoutMs = 10000 }).Build();
        var failed = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync(topic, new Message<Null, string> { Value = "x" }));
        Assert.Equal(ErrorCode.MsgSizeTooLarge, failed.Error.Code);

        // The pushed error was used up by that request: the next produce succeeds.
        var ok = await producer.ProduceAsync(topic, new Message<Null, string> { Value = "y" });
        Assert.Equal(PersistenceStatus.Persisted, ok.Status);
    }

    [Fact]
    public async Task A_broker_set_down_refuses_connections_until_set_up()
    {
        const string topic = "down";
        _kafka.CreateTopic(topic, 1);
        for (var id = 1; id <= 3; id++) _kafka.SetBrokerDown(id);
        // Quiet: librdkafka would print every refused connection to stderr.
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, MessageTimeoutMs = 1500 })
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, _) => { })
            .Build();
        var failed = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync(topic, new Message<Null, string> { Value = "x" }));
        Assert.Equal(ErrorCode.Local_MsgTimedOut, failed.Error.Code);

        for (var id = 1; id <= 3; id++) _kafka.SetBrokerUp(id);
        using var again = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, MessageTimeoutMs = 10000 }).Build();
        Assert.Equal(PersistenceStatus.Persisted, (await again.ProduceAsync(topic, new Message<Null, string> { Value = "y" })).Status);
    }

    [Fact]
    public async Task The_mock_cluster_also_runs_as_its_own_process_for_other_clients()
    {
        var dir = Directory.CreateTempSubdirectory("ingest-stack-kafka-").FullName;
        var log = Path.Combine(dir, "kafka.log");
        var kafka = ChildProcesses.Start("dotnet", [RepoPaths.LocalStackDll, "kafka", "--brokers", "2", "--topic", "standalone:3"], log);
        try
        {
            var bootstrap = await Poll.UntilAsync(async () =>
            {
                var line = File.Exists(log) ? (await File.ReadAllLinesAsync(log)).FirstOrDefault(l => l.StartsWith("bootstrap.servers=", StringComparison.Ordinal)) : null;
                return line?["bootstrap.servers=".Length..];
            }, b => b is not null || kafka.HasExited, TimeSpan.FromSeconds(30), everyMs: 100);
            Assert.True(bootstrap is not null, $"no bootstrap line: {Wait.Tail(log)}");
            Assert.Equal(2, bootstrap.Split(',').Length);

            Assert.Equal(300, SampleEvents.Produce(bootstrap, "standalone", 0, 300));
            using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "g", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
            var parts = Enumerable.Range(0, 3).Select(p => new TopicPartition("standalone", p)).ToList();
            var high = parts.Sum(p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
            Assert.Equal(300, high);
        }
        finally
        {
            ChildProcesses.Kill(kafka);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_mock_runs_in_the_one_librdkafka_Confluent_Kafka_loaded()
    {
        // librdkafka.redist 2.16.0 (Directory.Packages.props): the clients and the mock must run that build.
        Assert.Equal("2.16.0", Library.VersionString);
        Assert.Equal(Library.VersionString, MockKafkaCluster.NativeLibraryVersion);
        Assert.True(File.Exists(MockKafkaCluster.NativeLibraryPath), MockKafkaCluster.NativeLibraryPath);
        var mapped = File.ReadLines("/proc/self/maps").Where(l => l.EndsWith("librdkafka.so", StringComparison.Ordinal))
            .Select(l => l[l.IndexOf('/', StringComparison.Ordinal)..]).Distinct().ToList();
        Assert.Equal([MockKafkaCluster.NativeLibraryPath], mapped);
    }

    [Fact]
    public void A_first_group_join_skips_the_initial_rebalance_delay_unless_asked_for()
    {
        var quick = FirstJoin(_kafka, "g-join-quick");
        using var delayed = MockKafkaCluster.Start(1, groupInitialRebalanceDelayMs: 3000);
        var slow = FirstJoin(delayed, "g-join-delayed");
        output.WriteLine($"first group join: {quick.TotalSeconds:0.00} s without the delay, {slow.TotalSeconds:0.00} s with 3000 ms");
        Assert.True(quick < TimeSpan.FromSeconds(2), $"{quick}");
        Assert.True(slow >= TimeSpan.FromSeconds(2.5), $"{slow}");
    }

    private static TimeSpan FirstJoin(MockKafkaCluster kafka, string group)
    {
        kafka.CreateTopic(group, 2);
        var assigned = false;
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = group,
            SessionTimeoutMs = 6000,
        }).SetPartitionsAssignedHandler((_, _) => assigned = true).Build();
        var sw = Stopwatch.StartNew();
        consumer.Subscribe(group);
        while (!assigned && sw.Elapsed < TimeSpan.FromSeconds(20)) consumer.Consume(50);
        var elapsed = sw.Elapsed;
        consumer.Close();
        Assert.True(assigned, $"{group}: no assignment in 20 s");
        return elapsed;
    }

    private List<string> ConsumeAll(string topic, string group, int expected)
    {
        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(topic);
        var seen = new List<string>();
        var deadline = Stopwatch.StartNew();
        while (seen.Count < expected && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            var r = consumer.Consume(200);
            if (r is not null) seen.Add(r.Message.Value);
        }
        consumer.Close();
        return seen;
    }

    private (int Exit, string Output) Kcat(string[] args, string? stdin)
    {
        var info = new ProcessStartInfo("kcat")
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("-b");
        info.ArgumentList.Add(_kafka.BootstrapServers);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            throw new TimeoutException("kcat did not finish in 30 s");
        }
        return (p.ExitCode, stdin is null ? stdout.Result : stderr.Result);
    }
}

using System.Diagnostics;
using Confluent.Kafka;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline.Kafka;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Services;

/// <summary>Restore replay moves a region's consumer group back to a backup point: <see cref="GroupOffsets"/>
/// against librdkafka's mock cluster (which cannot describe groups, so the join probe decides who is active).</summary>
public sealed class GroupOffsetsTests(ITestOutputHelper output) : IDisposable
{
    private readonly MockKafkaCluster _kafka = MockKafkaCluster.Start(3);
    private readonly GroupOffsets _offsets = new(new OutputLogger(output));

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_group_that_had_members_is_reset_to_older_offsets_and_a_new_consumer_starts_there()
    {
        var topic = Topic("reset", partitions: 3, messages: 600);
        const string group = "ingest.a";

        // A worker read everything, committed and left: the group has had members.
        var consumed = ConsumeFrom(group, topic, 600, commit: true);
        Assert.Equal(600, consumed.Count);
        var end = await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]);
        Assert.Equal(3, end.Count);
        Assert.Equal(600, end.Values.Sum(v => v!.Value));

        // The backup point: an older offset on every partition (partition 2 back to its start).
        var point = end.ToDictionary(e => e.Key, e => e.Key.Partition.Value == 2 ? 0 : e.Value!.Value / 3);
        var reset = await _offsets.ResetAsync(_kafka.BootstrapServers, group, point, TimeSpan.FromSeconds(30));
        output.WriteLine($"reset of a group that had members: {reset.Elapsed.TotalSeconds:0.00} s ({reset.MembershipCheck})");

        Assert.Equal("probe", reset.MembershipCheck);
        Assert.Equal(end, reset.Before);
        var read = await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]);
        Assert.Equal(point.OrderBy(p => p.Key.Partition.Value), read.Select(r => KeyValuePair.Create(r.Key, r.Value!.Value)).OrderBy(p => p.Key.Partition.Value));

        // A new worker of the group starts exactly at the backup point and reads the rest again.
        var replay = ConsumeFrom(group, topic, 600 - (int)point.Values.Sum(), commit: false);
        Assert.Equal(600 - point.Values.Sum(), replay.Count);
        foreach (var (tp, offset) in point)
            Assert.Equal(offset, replay.Where(r => r.Partition == tp.Partition).Min(r => r.Offset.Value));
        Assert.Equal(replay.Count, replay.Distinct().Count());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task A_reset_is_refused_while_a_consumer_of_the_group_is_active_naming_the_partitions_it_holds_when_the_probe_got_an_assignment(int partitions)
    {
        var topic = Topic("busy", partitions, messages: 100);
        var group = $"ingest.busy{partitions}";

        using var stop = new CancellationTokenSource();
        var held = new List<TopicPartition>();
        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var worker = Task.Run(() => RunWorker(group, topic, held, committed, stop.Token));
        try
        {
            await committed.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(partitions, Held(held).Count);
            var before = await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]);
            Assert.Single(before.Values, v => v is not null);

            var all = Enumerable.Range(0, partitions).ToDictionary(p => new TopicPartition(topic, p), _ => 0L);
            var sw = Stopwatch.StartNew();
            var refused = await Assert.ThrowsAsync<GroupHasActiveMembersException>(() => _offsets.ResetAsync(_kafka.BootstrapServers, group, all, TimeSpan.FromSeconds(30)));
            output.WriteLine($"refusal with {partitions} partition(s): {sw.Elapsed.TotalSeconds:0.00} s (partitions {(refused.PartitionsHeldElsewhere is null ? "unknown" : "named")}): {refused.Message}");

            Assert.Equal(group, refused.Group);
            Assert.Empty(refused.Members); // the mock cannot describe groups: the probe counts members and names partitions
            Assert.True(refused.OtherMembers is 1 or -1, $"{refused.OtherMembers}");
            // The mock often fails the probe's SyncGroup: then it refuses on the JoinGroup alone, partitions unknown.
            var named = refused.PartitionsHeldElsewhere ?? [];
            Assert.All(named, p => Assert.Contains(p, all.Keys));
            if (partitions > 1 && refused.PartitionsHeldElsewhere is not null) Assert.NotEmpty(named); // range: the worker keeps some
            Assert.Contains($"'{group}'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("stop the region's workers first", refused.Message, StringComparison.Ordinal);
            foreach (var p in named) Assert.Contains($"{topic}[{p.Partition.Value}]", refused.Message, StringComparison.Ordinal);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"refusal took {sw.Elapsed}");

            // Nothing changed, and the worker gets all its partitions back once the probe left.
            Assert.Equal(before, await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]));
            var back = await Poll.UntilAsync(() => Task.FromResult(Held(held).Count), n => n == partitions, TimeSpan.FromSeconds(20));
            output.WriteLine($"worker holds {back} of {partitions} partition(s) {sw.Elapsed.TotalSeconds:0.00} s after the reset began");
            Assert.Equal(partitions, back);
        }
        finally
        {
            await stop.CancelAsync();
            await worker;
        }
    }

    [Fact]
    public async Task A_group_that_never_existed_is_created_at_the_wanted_offsets()
    {
        var topic = Topic("fresh", partitions: 2, messages: 200);
        const string group = "ingest.never";

        var none = await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]);
        Assert.Equal(2, none.Count);
        Assert.All(none.Values, v => Assert.Null(v));

        var p0 = new TopicPartition(topic, 0);
        var point = new Dictionary<TopicPartition, long> { [p0] = 7 };
        var reset = await _offsets.ResetAsync(_kafka.BootstrapServers, group, point, TimeSpan.FromSeconds(30));
        output.WriteLine($"reset of a group that never existed: {reset.Elapsed.TotalSeconds:0.00} s ({reset.MembershipCheck})");

        var read = await _offsets.ReadAsync(_kafka.BootstrapServers, group, [topic]);
        Assert.Equal(7, read[p0]);
        Assert.Null(read[new TopicPartition(topic, 1)]); // a partition not in the backup point stays uncommitted
        Assert.All(reset.Before.Values, v => Assert.Null(v));
    }

    [Fact]
    public async Task A_reset_to_a_partition_that_does_not_exist_is_refused_before_touching_the_group()
    {
        var topic = Topic("bad", partitions: 2, messages: 0);
        var bad = new Dictionary<TopicPartition, long> { [new TopicPartition(topic, 5)] = 0 };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => _offsets.ResetAsync(_kafka.BootstrapServers, "ingest.bad", bad, TimeSpan.FromSeconds(20)));
        Assert.Contains($"{topic}[5]", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A new topic with <paramref name="messages"/> sample events spread over its partitions.</summary>
    private string Topic(string prefix, int partitions, int messages)
    {
        var topic = StackFixture.NewTopic(prefix);
        _kafka.CreateTopic(topic, partitions);
        if (messages > 0) Assert.Equal(messages, SampleEvents.Produce(_kafka.BootstrapServers, topic, 0, messages));
        return topic;
    }

    private static List<TopicPartition> Held(List<TopicPartition> held)
    {
        lock (held) return [.. held];
    }

    /// <summary>A worker: consumes the group until stopped, keeping <paramref name="held"/> = its assignment;
    /// commits once, after its first message.</summary>
    private void RunWorker(string group, string topic, List<TopicPartition> held, TaskCompletionSource committed, CancellationToken ct)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = group,
            ClientId = "ingest-a-worker",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        })
            .SetPartitionsAssignedHandler((_, parts) => { lock (held) held.AddRange(parts); })
            .SetPartitionsRevokedHandler((_, parts) => { lock (held) held.RemoveAll(h => parts.Any(p => p.TopicPartition == h)); })
            .SetPartitionsLostHandler((_, parts) => { lock (held) held.RemoveAll(h => parts.Any(p => p.TopicPartition == h)); })
            .Build();
        consumer.Subscribe(topic);
        while (!ct.IsCancellationRequested)
        {
            var r = consumer.Consume(50);
            if (r is not null && !committed.Task.IsCompleted)
            {
                consumer.Commit([new TopicPartitionOffset(r.TopicPartition, r.Offset + 1)]);
                committed.SetResult();
            }
        }
        consumer.Close();
    }

    /// <summary>Consumes <paramref name="expected"/> messages of <paramref name="topic"/> as a member of
    /// <paramref name="group"/> (30 s at most), optionally commits, then leaves.</summary>
    private List<TopicPartitionOffset> ConsumeFrom(string group, string topic, int expected, bool commit)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe(topic);
        var seen = new List<TopicPartitionOffset>();
        var sw = Stopwatch.StartNew();
        while (seen.Count < expected && sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            var r = consumer.Consume(100);
            if (r is not null) seen.Add(r.TopicPartitionOffset);
        }
        // A little longer: a replay must not bring more than expected.
        var extra = Stopwatch.StartNew();
        while (extra.Elapsed < TimeSpan.FromMilliseconds(500))
        {
            var r = consumer.Consume(100);
            if (r is not null) seen.Add(r.TopicPartitionOffset);
        }
        if (commit) consumer.Commit();
        consumer.Close();
        return seen;
    }

    /// <summary>The reset's log (with librdkafka's cgrp debug lines of the probe) in the test output.</summary>
    private sealed class OutputLogger(ITestOutputHelper output) : Microsoft.Extensions.Logging.ILogger
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try { output.WriteLine($"{_clock.Elapsed.TotalSeconds,7:0.000} {logLevel}: {formatter(state, exception)}"); }
            catch (InvalidOperationException) { } // a line after the test finished
        }
    }
}

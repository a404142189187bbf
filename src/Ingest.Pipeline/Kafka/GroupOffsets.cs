using System.Diagnostics;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Kafka;

/// <summary>A member of a consumer group as the broker describes it.</summary>
internal sealed record GroupMember(string MemberId, string ClientId, string Host, IReadOnlyList<TopicPartition> Partitions)
{
    public override string ToString() =>
        $"{MemberId} (client {ClientId}, host {Host}{(Partitions.Count == 0 ? "" : ", holds " + string.Join(' ', Partitions.Select(p => $"{p.Topic}[{p.Partition.Value}]")))})";
}

/// <summary>How a reset found the group free, and what it changed.</summary>
/// <param name="Group">The consumer group.</param>
/// <param name="Before">Committed offsets of every partition of the reset topics before the reset (null: none).</param>
/// <param name="After">The offsets committed.</param>
/// <param name="Elapsed">From the call to the offsets read back.</param>
/// <param name="MembershipCheck">"describe" when the broker listed the group's members (none), "probe" when it
/// could not (the mock cluster) and joining the group showed no other member holding a partition.</param>
internal sealed record GroupOffsetsReset(
    string Group,
    IReadOnlyDictionary<TopicPartition, long?> Before,
    IReadOnlyDictionary<TopicPartition, long> After,
    string MembershipCheck,
    TimeSpan Elapsed);

/// <summary>A reset refused because the group has active members. <see cref="Members"/> when the broker named them;
/// otherwise what a probe member saw on joining: <see cref="OtherMembers"/> (how many members joined with it, -1 when
/// only "at least one") and <see cref="PartitionsHeldElsewhere"/> (the partitions it was not assigned; null when the
/// probe refused before it got an assignment).</summary>
internal sealed class GroupHasActiveMembersException : InvalidOperationException
{
    public GroupHasActiveMembersException(string group, IReadOnlyList<GroupMember> members, int otherMembers, IReadOnlyList<TopicPartition>? heldElsewhere)
        : base(Describe(group, members, otherMembers, heldElsewhere))
    {
        Group = group;
        Members = members;
        OtherMembers = members.Count > 0 ? members.Count : otherMembers;
        PartitionsHeldElsewhere = heldElsewhere;
    }

    public string Group { get; }

    public IReadOnlyList<GroupMember> Members { get; }

    public int OtherMembers { get; }

    public IReadOnlyList<TopicPartition>? PartitionsHeldElsewhere { get; }

    private static string Describe(string group, IReadOnlyList<GroupMember> members, int otherMembers, IReadOnlyList<TopicPartition>? heldElsewhere)
    {
        string who;
        if (members.Count > 0)
            who = $"{members.Count} active member(s): {string.Join("; ", members)}";
        else
        {
            var count = otherMembers switch { < 0 => "at least one other member", 1 => "1 other member", _ => $"{otherMembers} other members" };
            var held = heldElsewhere switch
            {
                null => " (which partitions it holds is not known: the probe left before the rebalance completed)",
                [] => ", holding none of the partitions",
                _ => $", holding {string.Join(' ', heldElsewhere.Select(p => $"{p.Topic}[{p.Partition.Value}]"))}",
            };
            who = $"{count}{held} (the broker cannot describe groups, so members are not named)";
        }
        return $"Consumer group '{group}' has {who}. Its offsets were not changed: stop the region's workers first " +
            "(a killed worker stays a member until its session times out), then reset again.";
    }
}

/// <summary>Reads and resets a consumer group's committed offsets (restore replay: move a region's group back to
/// a backup point). Never calls ListConsumerGroups: it corrupts the heap against librdkafka's mock cluster.
/// AlterConsumerGroupOffsets is not used either: the mock refuses it (UNKNOWN_MEMBER_ID) for any group that has
/// had members. A reset joins the group as its only member, commits, reads the offsets back, and leaves; that
/// works on the mock and on real brokers.</summary>
internal sealed partial class GroupOffsets(ILogger? logger = null)
{
    /// <summary>Client id of the member a reset joins with.</summary>
    public const string ResetClientId = "ingest-reset-offsets";

    private readonly ILogger _log = logger ?? NullLogger.Instance;

    /// <summary>How long the probe, having seen other members in its JoinGroup response, still waits for its
    /// assignment (to name the partitions they hold) before it refuses and leaves. Short: while the probe is in the
    /// group the active members are rebalancing. On the mock a follower's SyncGroup fails ("Invalid request") whenever
    /// the leader's arrives first (the group is already up), and each retry costs a 5 s rebalance with the same race,
    /// so waiting longer rarely names more.</summary>
    public TimeSpan ProbeAssignmentGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>session.timeout.ms of the probe member: short, so a reset that dies leaves the group quickly.</summary>
    public int ProbeSessionTimeoutMs { get; init; } = 6000;

    /// <summary>The committed offset of every partition of <paramref name="topics"/> for <paramref name="group"/>;
    /// null where the group committed none (also for a group that never existed).</summary>
    public async Task<IReadOnlyDictionary<TopicPartition, long?>> ReadAsync(
        string bootstrap, string group, IEnumerable<string> topics, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? properties = null, CancellationToken ct = default)
    {
        var wait = timeout ?? TimeSpan.FromSeconds(10);
        using var admin = BuildAdmin(bootstrap, properties);
        var partitions = Partitions(admin, topics.Distinct(StringComparer.Ordinal).ToList(), wait);
        return await ReadAsync(admin, group, partitions, wait, ct).ConfigureAwait(false);
    }

    /// <summary>Sets <paramref name="group"/>'s committed offsets to <paramref name="offsets"/> (the next offset
    /// to consume per partition). Refuses with <see cref="GroupHasActiveMembersException"/> while the group has
    /// active members; other partitions of the group keep their offsets. Every wait is bounded by
    /// <paramref name="timeout"/> (default 60 s, the whole reset).</summary>
    public async Task<GroupOffsetsReset> ResetAsync(
        string bootstrap, string group, IReadOnlyDictionary<TopicPartition, long> offsets, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? properties = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        if (offsets.Count == 0) throw new ArgumentException("no offsets to reset", nameof(offsets));
        if (offsets.FirstOrDefault(o => o.Value < 0) is { Key: not null } negative)
            throw new ArgumentException($"offset {negative.Value} for {negative.Key} is not an offset to consume from", nameof(offsets));

        var sw = Stopwatch.StartNew();
        var deadline = sw.Elapsed + (timeout ?? TimeSpan.FromSeconds(60));
        TimeSpan Left() => deadline - sw.Elapsed is var left && left > TimeSpan.Zero ? left : throw new TimeoutException($"resetting group '{group}': timed out after {sw.Elapsed.TotalSeconds:0.0} s");
        TimeSpan Step() => Min(Left(), TimeSpan.FromSeconds(10));

        using var admin = BuildAdmin(bootstrap, properties);
        var topics = offsets.Keys.Select(p => p.Topic).Distinct(StringComparer.Ordinal).ToList();
        var all = Partitions(admin, topics, Step());
        var unknown = offsets.Keys.Where(p => !all.Contains(p)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"no such partition(s): {string.Join(' ', unknown.Select(Name))}", nameof(offsets));

        var before = await ReadAsync(admin, group, all, Step(), ct).ConfigureAwait(false);

        // A real broker names the members; the mock answers "not supported" and the probe below decides alone.
        var members = await DescribeMembersAsync(admin, group, Step(), ct).ConfigureAwait(false);
        if (members is { Count: > 0 }) throw new GroupHasActiveMembersException(group, members, members.Count, []);
        var check = members is null ? "probe" : "describe";

        // Join as a member whatever Describe said: a worker starting in between would be seen here.
        await Task.Run(() => JoinCommitLeave(bootstrap, group, topics, all, offsets, properties, Left, ct), ct).ConfigureAwait(false);

        var after = await ReadAsync(admin, group, offsets.Keys.ToList(), Step(), ct).ConfigureAwait(false);
        var wrong = offsets.Where(o => after[o.Key] != o.Value).ToList();
        if (wrong.Count > 0)
            throw new InvalidOperationException($"group '{group}': after the reset the committed offsets read back differ: " +
                string.Join(", ", wrong.Select(o => $"{Name(o.Key)} wanted {o.Value}, read {after[o.Key]?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}")));

        _log.LogInformation("Reset group {Group}: {Count} partition(s) committed in {Seconds:0.00} s (membership check: {Check})",
            group, offsets.Count, sw.Elapsed.TotalSeconds, check);
        return new GroupOffsetsReset(group, before, offsets.ToDictionary(o => o.Key, o => o.Value), check, sw.Elapsed);
    }

    /// <summary>Throws <see cref="GroupHasActiveMembersException"/> when <paramref name="group"/> has active members,
    /// as <see cref="ResetAsync"/> would, without changing any offset: the check a restore makes before it touches
    /// the tables. Returns how it decided ("describe" or "probe").</summary>
    public async Task<string> EnsureNoActiveMembersAsync(
        string bootstrap, string group, IEnumerable<string> topics, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? properties = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        var sw = Stopwatch.StartNew();
        var deadline = sw.Elapsed + (timeout ?? TimeSpan.FromSeconds(60));
        TimeSpan Left() => deadline - sw.Elapsed is var left && left > TimeSpan.Zero ? left : throw new TimeoutException($"checking group '{group}': timed out after {sw.Elapsed.TotalSeconds:0.0} s");
        using var admin = BuildAdmin(bootstrap, properties);
        var names = topics.Distinct(StringComparer.Ordinal).ToList();
        var all = Partitions(admin, names, Min(Left(), TimeSpan.FromSeconds(10)));
        var members = await DescribeMembersAsync(admin, group, Min(Left(), TimeSpan.FromSeconds(10)), ct).ConfigureAwait(false);
        if (members is { Count: > 0 }) throw new GroupHasActiveMembersException(group, members, members.Count, []);
        if (members is not null) return "describe";
        await Task.Run(() => JoinCommitLeave(bootstrap, group, names, all, new Dictionary<TopicPartition, long>(), properties, Left, ct), ct).ConfigureAwait(false);
        return "probe";
    }

    private void JoinCommitLeave(
        string bootstrap, string group, IReadOnlyList<string> topics, IReadOnlySet<TopicPartition> all,
        IReadOnlyDictionary<TopicPartition, long> offsets, IReadOnlyDictionary<string, string>? properties,
        Func<TimeSpan> left, CancellationToken ct)
    {
        var config = new ConsumerConfig();
        foreach (var (k, v) in properties ?? new Dictionary<string, string>()) config.Set(k, v);
        config.BootstrapServers = bootstrap;
        config.GroupId = group;
        config.ClientId = ResetClientId;
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.SessionTimeoutMs = ProbeSessionTimeoutMs;
        // Only range (what the workers use by default); with an incompatible assignor in use by active members the
        // join itself fails, which is a refusal too.
        config.PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range;
        // Members holding no partition (more members than partitions) are invisible in the assignment; librdkafka's
        // cgrp debug line for the JoinGroup response says who leads and, to the leader, how many members joined.
        config.Debug = "cgrp";
        // Nothing fetched is used: keep what the assignment prefetches small.
        config.QueuedMaxMessagesKbytes = 1024;
        config.FetchMaxBytes = 1024 * 1024;

        List<TopicPartition>? assigned = null;
        Error? fatal = null;
        var joins = new JoinResponses();
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(config)
            .SetPartitionsAssignedHandler((_, parts) => assigned = parts)
            .SetErrorHandler((_, e) => { if (e.IsFatal) fatal = e; })
            .SetLogHandler((_, m) =>
            {
                if (m.Facility == "JOINGROUP") joins.Observe(m.Message);
                if (m.Level <= SyslogLevel.Warning) _log.LogDebug("reset consumer: {Message}", m.Message);
                else _log.LogTrace("reset consumer {Facility}: {Message}", m.Facility, m.Message);
            })
            .Build();
        var closed = false;
        try
        {
            consumer.Subscribe(topics);
            var othersSeen = (Stopwatch?)null;
            while (assigned is null)
            {
                ct.ThrowIfCancellationRequested();
                if (fatal is not null) throw new KafkaException(fatal);
                _ = left(); // throws TimeoutException when the reset's time is up
                if (joins.OtherMembers() is { } seen and not 0)
                {
                    othersSeen ??= Stopwatch.StartNew();
                    if (othersSeen.Elapsed > ProbeAssignmentGrace)
                        throw new GroupHasActiveMembersException(group, [], seen, null);
                }
                consumer.Consume(50);
            }
            consumer.Pause(assigned);

            var missing = all.Where(p => !assigned.Contains(p)).OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition.Value).ToList();
            var others = joins.OtherMembers();
            if (others is null)
                _log.LogWarning("Group {Group}: no JoinGroup debug line seen; members holding no partition cannot be detected", group);
            if (missing.Count > 0 || others is not null and not 0)
                throw new GroupHasActiveMembersException(group, [], others ?? -1, missing);

            if (offsets.Count > 0) consumer.Commit(offsets.Select(o => new TopicPartitionOffset(o.Key, new Offset(o.Value))));
            consumer.Close();
            closed = true;
        }
        finally
        {
            // Leave the group at once (a refusal too), so the members it probed rebalance back without waiting
            // for this member's session to expire.
            if (!closed)
            {
                try { consumer.Close(); }
                catch (KafkaException e) { _log.LogDebug(e, "reset consumer close"); }
            }
        }
    }

    /// <summary>The last successful JoinGroup response of the probe, from librdkafka's cgrp debug line:
    /// "JoinGroup response: GenerationId 3, Protocol range, LeaderId X (me), my MemberId X, member metadata count 2: (no error)".
    /// Only the leader gets the members' metadata; a leader other than the probe is another member.</summary>
    private sealed partial class JoinResponses
    {
        private readonly Lock _lock = new();
        private int? _others;

        public void Observe(string line)
        {
            var m = JoinResponse().Match(line);
            if (!m.Success) return;
            var others = m.Groups["me"].Success ? int.Parse(m.Groups["count"].Value, System.Globalization.CultureInfo.InvariantCulture) - 1 : -1;
            lock (_lock) _others = others;
        }

        /// <summary>Members other than the probe in its last join: a count, -1 for "at least one" (it did not
        /// lead), null when no line was seen.</summary>
        public int? OtherMembers()
        {
            lock (_lock) return _others;
        }

        [System.Text.RegularExpressions.GeneratedRegex(@"JoinGroup response: GenerationId \d+, Protocol [^,]*, LeaderId [^,]*?(?<me> \(me\))?, my MemberId [^,]*, member metadata count (?<count>\d+): \(no error\)")]
        private static partial System.Text.RegularExpressions.Regex JoinResponse();
    }

    private static async Task<IReadOnlyDictionary<TopicPartition, long?>> ReadAsync(
        IAdminClient admin, string group, IReadOnlyCollection<TopicPartition> partitions, TimeSpan timeout, CancellationToken ct)
    {
        List<ListConsumerGroupOffsetsResult> results;
        try
        {
            results = await admin.ListConsumerGroupOffsetsAsync(
                [new ConsumerGroupTopicPartitions(group, partitions.ToList())],
                new ListConsumerGroupOffsetsOptions { RequestTimeout = timeout }).WaitAsync(timeout + TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        }
        catch (ListConsumerGroupOffsetsException e)
        {
            throw new InvalidOperationException($"reading group '{group}' offsets: {string.Join("; ", e.Results.Select(r => r.Error.Reason))}", e);
        }
        var read = new Dictionary<TopicPartition, long?>();
        foreach (var p in results.Single().Partitions)
        {
            if (p.Error.IsError) throw new InvalidOperationException($"reading group '{group}' offset of {Name(p.TopicPartition)}: {p.Error.Reason}");
            read[p.TopicPartition] = p.Offset.IsSpecial ? null : p.Offset.Value;
        }
        return read;
    }

    /// <summary>The group's members as the broker describes them; null when it cannot (the mock: "Required feature
    /// not supported by broker").</summary>
    private async Task<IReadOnlyList<GroupMember>?> DescribeMembersAsync(IAdminClient admin, string group, TimeSpan timeout, CancellationToken ct)
    {
        ConsumerGroupDescription description;
        try
        {
            var result = await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { RequestTimeout = timeout })
                .WaitAsync(timeout + TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            description = result.ConsumerGroupDescriptions.Single();
        }
        catch (DescribeConsumerGroupsException e) when (e.Results.ConsumerGroupDescriptions.Count == 1)
        {
            description = e.Results.ConsumerGroupDescriptions[0];
        }
        catch (KafkaException e) when (NotSupported(e.Error.Code))
        {
            _log.LogDebug("DescribeConsumerGroups not supported ({Reason}); probing group {Group} by joining it", e.Error.Reason, group);
            return null;
        }
        if (description.Error.IsError)
        {
            if (NotSupported(description.Error.Code))
            {
                _log.LogDebug("DescribeConsumerGroups not supported ({Reason}); probing group {Group} by joining it", description.Error.Reason, group);
                return null;
            }
            if (description.Error.Code != ErrorCode.GroupIdNotFound)
                throw new KafkaException(description.Error);
            return [];
        }
        return description.Members.Select(m => new GroupMember(
            m.ConsumerId, m.ClientId, m.Host, m.Assignment?.TopicPartitions?.ToList() ?? [])).ToList();
    }

    private static bool NotSupported(ErrorCode code) =>
        code is ErrorCode.Local_UnsupportedFeature or ErrorCode.UnsupportedVersion or ErrorCode.InvalidRequest;

    internal static HashSet<TopicPartition> Partitions(IAdminClient admin, IReadOnlyList<string> topics, TimeSpan timeout)
    {
        var all = new HashSet<TopicPartition>();
        foreach (var topic in topics)
        {
            var meta = admin.GetMetadata(topic, timeout).Topics.SingleOrDefault(t => t.Topic == topic);
            if (meta is null || meta.Error.IsError || meta.Partitions.Count == 0)
                throw new ArgumentException($"topic '{topic}' not found ({meta?.Error.Reason ?? "no metadata"})", nameof(topics));
            foreach (var p in meta.Partitions) all.Add(new TopicPartition(topic, p.PartitionId));
        }
        return all;
    }

    internal static IAdminClient BuildAdmin(string bootstrap, IReadOnlyDictionary<string, string>? properties)
    {
        var config = new AdminClientConfig();
        foreach (var (k, v) in properties ?? new Dictionary<string, string>()) config.Set(k, v);
        config.BootstrapServers = bootstrap;
        return new AdminClientBuilder(config).SetLogHandler((_, _) => { }).Build();
    }

    private static string Name(TopicPartition p) => $"{p.Topic}[{p.Partition.Value}]";

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

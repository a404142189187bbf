using Confluent.Kafka;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Kafka;

/// <summary>The consumer as the pipeline thread sees it: the assigned partitions, why each one waits (a set of
/// <see cref="PauseReasons"/>; consumed only while empty), where each stands (next offset to take, next offset
/// committed), and the pause rules that also apply to partitions assigned later.</summary>
internal sealed class KafkaSource : IDisposable
{
    private readonly IPartitionConsumer _consumer;
    private readonly ILogger _logger;
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];
    private readonly List<(PartitionSelector Selector, PauseReasons Reason)> _rules = [];
    private readonly List<TopicPartition> _toPause = [];
    private readonly List<TopicPartition> _toResume = [];

    /// <summary>Set when a reason or the assignment changed: librdkafka is told before the next poll (checking every
    /// partition on every message would cost more than the message).</summary>
    private bool _dirty;

    /// <summary>The last message's partition and its state: messages come in runs of one partition, and the consumer
    /// hands out one TopicPartition instance per partition, so a reference check saves hashing the topic string per
    /// message. Cleared whenever the assignment changes.</summary>
    private (TopicPartition? Partition, PartitionState? State) _last;

    private sealed class PartitionState
    {
        public PauseReasons Reasons;

        /// <summary>What librdkafka was told: paused or not (it resets to consuming on every assignment).</summary>
        public bool PausedInKafka;

        public long? Position;
        public long? Committed;
    }

    public KafkaSource(IPartitionConsumer consumer, ILogger logger)
    {
        _consumer = consumer;
        _logger = logger;
    }

    public IReadOnlyCollection<TopicPartition> Assigned => _partitions.Keys;

    /// <summary>True when every assigned partition waits: the loop then polls briefly, to stay responsive.</summary>
    public bool AllPaused { get; private set; }

    public IReadOnlyList<(PartitionSelector Selector, PauseReasons Reason)> Rules => _rules;

    public void Subscribe(IReadOnlyList<string> topics, IRebalanceListener listener) => _consumer.Subscribe(topics, listener);

    public ReadOnlySpan<byte> Value => _consumer.Value;

    /// <summary>Called from the assignment callback: librdkafka assigns them after it returns, consuming; the pause rules
    /// are applied before the next poll.</summary>
    public void Assign(IReadOnlyList<TopicPartitionOffset> starts)
    {
        foreach (var start in starts)
        {
            var state = new PartitionState { Position = start.Offset == Offset.Unset ? null : start.Offset.Value };
            state.Committed = state.Position;
            foreach (var (selector, reason) in _rules)
            {
                if (selector.Matches(start.Topic, start.Partition.Value)) state.Reasons |= reason;
            }
            _partitions[start.TopicPartition] = state;
        }
        _last = default;
        _dirty = true;
    }

    public void Release(IEnumerable<TopicPartition> partitions)
    {
        foreach (var p in partitions) _partitions.Remove(p);
        _last = default;
        _dirty = true;
    }

    /// <summary>The next message of a partition that may be consumed, or null. A message of a partition that waits
    /// (fetched before librdkafka paused it) is not taken: the partition is sought back to it, so it comes again once
    /// resumed.</summary>
    public ConsumedMessage? Next(int timeoutMs)
    {
        ApplyPauses();
        var message = _consumer.Consume(timeoutMs);
        PartitionState? state;
        if (message is not { } m) return null;
        if (ReferenceEquals(m.Partition, _last.Partition)) state = _last.State!;
        else if (_partitions.TryGetValue(m.Partition, out state)) _last = (m.Partition, state);
        else return null;
        if (state.Reasons != PauseReasons.None)
        {
            _consumer.Seek(new TopicPartitionOffset(m.Partition, new Offset(m.Offset)));
            state.PausedInKafka = false;
            _dirty = true;
            return null;
        }
        state.Position = m.Offset + 1;
        return m;
    }

    public bool IsAssigned(TopicPartition partition) => _partitions.ContainsKey(partition);

    public PauseReasons Reasons(TopicPartition partition) => _partitions.TryGetValue(partition, out var s) ? s.Reasons : PauseReasons.None;

    public long? Position(TopicPartition partition) => _partitions.TryGetValue(partition, out var s) ? s.Position : null;

    public long? Committed(TopicPartition partition) => _partitions.TryGetValue(partition, out var s) ? s.Committed : null;

    public long? HighWatermark(TopicPartition partition) => _consumer.HighWatermark(partition);

    /// <summary>Adds <paramref name="reason"/> to the partitions <paramref name="selector"/> matches now, and (with
    /// <paramref name="rule"/>) to those assigned later, until <see cref="Remove"/>.</summary>
    public IReadOnlyList<TopicPartition> Add(PartitionSelector selector, PauseReasons reason, bool rule = true)
    {
        if (rule && !_rules.Contains((selector, reason))) _rules.Add((selector, reason));
        var matched = Matching(selector);
        foreach (var p in matched) _partitions[p].Reasons |= reason;
        _dirty = true;
        return matched;
    }

    /// <summary>Lifts <paramref name="reason"/> from the partitions <paramref name="selector"/> matches and drops the
    /// rules of that reason it covers; other reasons stay.</summary>
    public IReadOnlyList<TopicPartition> Remove(PartitionSelector selector, PauseReasons reason)
    {
        _rules.RemoveAll(r => r.Reason == reason && Covers(selector, r.Selector));
        var matched = Matching(selector);
        foreach (var p in matched) _partitions[p].Reasons &= ~reason;
        _dirty = true;
        return matched;
    }

    /// <summary>Adds or lifts a reason on every assigned partition and on later ones (backpressure).</summary>
    public void SetEverywhere(PauseReasons reason, bool on)
    {
        if (on) Add(PartitionSelector.All, reason);
        else Remove(PartitionSelector.All, reason);
    }

    /// <summary>Moves the fetch position back (a batch is decoded again, or a failed route resumes from its last
    /// committed offset).</summary>
    public void Seek(TopicPartition partition, long offset)
    {
        _consumer.Seek(new TopicPartitionOffset(partition, new Offset(offset)));
        if (_partitions.TryGetValue(partition, out var s)) s.Position = offset;
    }

    /// <summary>The partition starts over at <paramref name="offset"/>, as if assigned there: the next message taken and
    /// the committed position (a region taking a partition over from another).</summary>
    public void Reset(TopicPartition partition, long offset)
    {
        Seek(partition, offset);
        if (_partitions.TryGetValue(partition, out var s)) s.Committed = offset;
    }

    /// <summary>Commits to Kafka (in order, after ClickHouse acknowledged); a failed commit is not fatal.</summary>
    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets)
    {
        if (offsets.Count == 0) return;
        foreach (var o in offsets)
        {
            if (_partitions.TryGetValue(o.TopicPartition, out var s)) s.Committed = o.Offset.Value;
        }
        try
        {
            _consumer.Commit(offsets);
        }
        catch (KafkaException e)
        {
            // The rows are stored and checkpointed; a lost commit only means a replay after a rebalance or restart.
            _logger.LogWarning("Offset commit failed ({Reason}); rows are stored, a rebalance may replay them", e.Error.Reason);
        }
    }

    public void Close() => _consumer.Close();

    /// <summary>Tells librdkafka what changed since the last poll; partitions just assigned start out consuming there.</summary>
    private void ApplyPauses()
    {
        if (!_dirty) return;
        _dirty = false;
        var consuming = 0;
        foreach (var (p, s) in _partitions)
        {
            var wait = s.Reasons != PauseReasons.None;
            if (!wait) consuming++;
            if (wait == s.PausedInKafka) continue;
            (wait ? _toPause : _toResume).Add(p);
            s.PausedInKafka = wait;
        }
        if (_toPause.Count > 0) _consumer.Pause(_toPause);
        if (_toResume.Count > 0) _consumer.Resume(_toResume);
        _toPause.Clear();
        _toResume.Clear();
        AllPaused = _partitions.Count > 0 && consuming == 0;
    }

    private List<TopicPartition> Matching(PartitionSelector selector) =>
        [.. _partitions.Keys.Where(p => selector.Matches(p.Topic, p.Partition.Value))];

    private static bool Covers(PartitionSelector outer, PartitionSelector inner) =>
        outer.Topic is null
        || (outer.Topic == inner.Topic && (outer.Partitions is null || outer.Partitions.Count == 0
            || (inner.Partitions is { Count: > 0 } && inner.Partitions.All(outer.Partitions.Contains))));

    public void Dispose() => _consumer.Dispose();
}

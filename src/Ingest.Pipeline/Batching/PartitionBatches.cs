using Confluent.Kafka;

namespace Ingest.Pipeline.Batching;

/// <summary>Every partition's batches, one lane per partition: at most one open batch, then sealed ones in offset
/// order, of which only the oldest may be in flight, so each partition's offsets are acknowledged and committed in
/// order. The bytes held (sealed and in flight) are derived from the lanes, never counted separately.</summary>
internal sealed class PartitionBatches
{
    private sealed class Lane
    {
        public PartitionBatch? Open;

        /// <summary>Sealed batches, oldest first; the head may be in flight.</summary>
        public readonly Queue<PartitionBatch> Sealed = new();

        /// <summary>Released (lost, revoked while failed) while its head was in flight: when that INSERT ends, nothing
        /// is committed for it and the lane goes away.</summary>
        public bool Released;
    }

    private readonly Dictionary<TopicPartition, Lane> _lanes = [];

    /// <summary>The lane <see cref="Open"/> found last: messages come in runs of one partition (one TopicPartition
    /// instance each), so a reference check saves hashing the topic per message. Cleared when a lane goes.</summary>
    private (TopicPartition? Partition, Lane? Lane) _last;
    private readonly List<PartitionBatch> _ready = [];
    private readonly Action<PartitionBatch> _release;
    private readonly Action<PartitionBatch> _sealed;

    /// <param name="release">Takes a batch back once nothing reads it any more (its buffer goes back to a pool).</param>
    /// <param name="sealed">Hears of each batch sealed (counted there, not per message).</param>
    public PartitionBatches(Action<PartitionBatch> release, Action<PartitionBatch> @sealed)
    {
        _release = release;
        _sealed = @sealed;
    }

    /// <summary>Message bytes of sealed and in-flight batches: what waits for ClickHouse.</summary>
    public long HeldBytes { get; private set; }

    /// <summary>The partition's open batch; if there is none, one is started with a buffer from the partition's pool
    /// (<paramref name="poolOf"/> is asked only then, not for every message).</summary>
    public PartitionBatch Open(TopicPartition partition, Func<TopicPartition, RowBufferPool> poolOf)
    {
        if (ReferenceEquals(partition, _last.Partition) && _last.Lane!.Open is { } open) return open;
        if (!_lanes.TryGetValue(partition, out var lane)) _lanes[partition] = lane = new Lane();
        _last = (partition, lane);
        return lane.Open ??= new PartitionBatch(partition, poolOf(partition).Rent());
    }

    /// <summary>True when the partition was released while an INSERT of it was in flight (see <see cref="Drop"/>).</summary>
    public bool IsReleased(TopicPartition partition) => _lanes.TryGetValue(partition, out var lane) && lane.Released;

    /// <summary>Closes the partition's open batch and queues it behind any earlier one of the partition.</summary>
    public void Seal(PartitionBatch batch)
    {
        var lane = _lanes[batch.Partition];
        if (lane.Open != batch) throw new InvalidOperationException($"{batch} is not the open batch of its partition");
        lane.Open = null;
        _sealed(batch);
        if (batch.IsEmpty)
        {
            _release(batch);
            return;
        }
        batch.State = BatchState.Sealed;
        batch.SealedAtTicks = Environment.TickCount64;
        lane.Sealed.Enqueue(batch);
        HeldBytes += batch.Rows.SourceBytes;
        if (lane.Sealed.Count == 1) _ready.Add(batch);
    }

    /// <summary>Seals the open batches that started at least <paramref name="maxAgeMs"/> ago.</summary>
    public void SealAged(long nowTicks, long maxAgeMs) => SealWhere(b => nowTicks - b.StartedAtTicks >= maxAgeMs);

    public void SealWhere(Func<PartitionBatch, bool> which)
    {
        List<PartitionBatch>? due = null;
        foreach (var lane in _lanes.Values)
        {
            if (lane.Open is { } open && which(open)) (due ??= []).Add(open);
        }
        foreach (var batch in due ?? []) Seal(batch);
    }

    /// <summary>True when none of the partitions <paramref name="which"/> selects holds a batch (open, sealed or in flight).</summary>
    public bool IsIdle(Func<TopicPartition, bool> which) =>
        !_lanes.Any(l => which(l.Key) && (l.Value.Open is not null || l.Value.Sealed.Count > 0));

    /// <summary>Takes ready batches for one INSERT: the oldest sealed batch of partitions with nothing in flight, all
    /// of one table (<paramref name="tableOf"/>; negative: not to be sent now), up to <paramref name="maxBytes"/>
    /// and <paramref name="maxBatches"/>. A table that <paramref name="fills"/> its INSERTs, whose group is not full
    /// yet, could still grow (see <see cref="CouldGrow"/>) and has only batches sealed after
    /// <paramref name="holdSealedAfter"/> is held back: its batches stay ready and the next table's are taken. Batches with no rows (every message rejected) need no INSERT: they go to
    /// <paramref name="empty"/>, in flight all the same, to be completed by the caller.</summary>
    public List<PartitionBatch> TakeGroup(Func<TopicPartition, int> tableOf, long maxBytes, int maxBatches, List<PartitionBatch> empty,
        Func<int, bool> fills, long holdSealedAfter)
    {
        var group = new List<PartitionBatch>();
        List<int>? held = null;
        while (true)
        {
            var table = -1;
            long bytes = 0;
            var full = false;
            var oldest = long.MaxValue;
            for (var i = 0; i < _ready.Count; i++)
            {
                var batch = _ready[i];
                var t = tableOf(batch.Partition);
                if (t < 0 || (table >= 0 && t != table) || held?.Contains(t) == true) continue;
                if (batch.Rows.Rows == 0)
                {
                    batch.State = BatchState.InFlight;
                    empty.Add(batch);
                    _ready.RemoveAt(i--);
                    continue;
                }
                if (group.Count == maxBatches || (bytes > 0 && bytes + batch.Rows.SourceBytes > maxBytes))
                {
                    full = true;
                    break;
                }
                table = t;
                bytes += batch.Rows.SourceBytes;
                oldest = Math.Min(oldest, batch.SealedAtTicks);
                group.Add(batch);
            }
            if (group.Count == 0 || full || group.Count == maxBatches || oldest <= holdSealedAfter || !fills(table) || bytes >= maxBytes || !CouldGrow(table, tableOf)) break;
            (held ??= []).Add(table);
            group.Clear();
        }
        foreach (var batch in group) batch.State = BatchState.InFlight;
        if (group.Count > 0) _ready.RemoveAll(IsInFlight);
        return group;
    }

    private void RemoveLane(TopicPartition partition)
    {
        _lanes.Remove(partition);
        _last = default;
    }

    /// <summary>A group takes one batch per partition, and none of a partition with a batch in flight or already in
    /// the group: only a partition of the table still filling its next batch can add to it. Without one (a single
    /// partition, or every partition's batch already in), holding the group would only delay it.</summary>
    private bool CouldGrow(int table, Func<TopicPartition, int> tableOf)
    {
        foreach (var (partition, lane) in _lanes)
        {
            if (lane.Open is not null && lane.Sealed.Count == 0 && tableOf(partition) == table) return true;
        }
        return false;
    }

    private static readonly Predicate<PartitionBatch> IsInFlight = b => b.State == BatchState.InFlight;

    /// <summary>The INSERT of <paramref name="batch"/> ended (acknowledged or abandoned): the batch is released and the
    /// partition's next sealed batch becomes ready. False when the partition was released meanwhile: its offsets must
    /// not be committed.</summary>
    public bool Complete(PartitionBatch batch)
    {
        var lane = _lanes[batch.Partition];
        if (lane.Sealed.Peek() != batch) throw new InvalidOperationException($"{batch} completed out of order");
        lane.Sealed.Dequeue();
        HeldBytes -= batch.Rows.SourceBytes;
        _release(batch);
        if (lane.Released)
        {
            RemoveLane(batch.Partition);
            return false;
        }
        if (lane.Sealed.Count > 0) _ready.Add(lane.Sealed.Peek());
        else if (lane.Open is null) RemoveLane(batch.Partition);
        return true;
    }

    /// <summary>Drops what the partition holds that is not in flight (open and queued batches). An INSERT already in
    /// flight cannot be recalled: with <paramref name="release"/> its completion will not be committed; without it
    /// (the partition stays), it completes as usual. Returns the first offset dropped, if any.</summary>
    public long? Drop(TopicPartition partition, bool release)
    {
        if (!_lanes.TryGetValue(partition, out var lane)) return null;
        long? first = null;
        var inFlight = lane.Sealed.Count > 0 && lane.Sealed.Peek().State == BatchState.InFlight ? lane.Sealed.Peek() : null;
        foreach (var batch in lane.Sealed)
        {
            if (batch == inFlight) continue;
            first ??= batch.FirstOffset;
            _ready.Remove(batch);
            HeldBytes -= batch.Rows.SourceBytes;
            _release(batch);
        }
        lane.Sealed.Clear();
        if (lane.Open is { } open)
        {
            first ??= open.FirstOffset;
            lane.Open = null;
            _release(open);
        }
        if (inFlight is null)
        {
            RemoveLane(partition);
        }
        else
        {
            lane.Sealed.Enqueue(inFlight);
            lane.Released |= release;
        }
        return first;
    }

    /// <summary>What a partition holds beyond its open batch: sealed and in-flight batches, their rows and bytes.</summary>
    public (int Batches, long Rows, long Bytes) Held(TopicPartition partition)
    {
        if (!_lanes.TryGetValue(partition, out var lane)) return default;
        long rows = 0, bytes = 0;
        foreach (var b in lane.Sealed)
        {
            rows += b.Rows.Rows;
            bytes += b.Rows.SourceBytes;
        }
        return (lane.Sealed.Count, rows, bytes);
    }

    /// <summary>Every batch (open, sealed, in flight), for disposal once no INSERT runs any more.</summary>
    public IEnumerable<PartitionBatch> All() =>
        _lanes.Values.SelectMany(l => l.Open is null ? l.Sealed : l.Sealed.Append(l.Open));
}

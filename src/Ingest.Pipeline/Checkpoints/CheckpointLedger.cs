using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Targets;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Checkpoints;

/// <summary>One table's checkpoints as the pipeline thread keeps them: each partition's version, the committed rows not
/// yet written (they ride with the next group's pending rows), and the resume and replay that follow an assignment.
/// Protocol per INSERT group: pending rows (with the group's members) → the INSERT → committed rows
/// (docs/exactly-once.md).</summary>
internal sealed class CheckpointLedger
{
    private readonly ICheckpointStore _store;
    private readonly ILogger _logger;
    private readonly Dictionary<TopicPartition, ulong> _versions = [];
    private readonly List<CheckpointRow> _committedRows = [];
    private long _committedRowsSince;
    private Task? _write;

    public CheckpointLedger(ICheckpointStore store, ReplayIdentity identity, ILogger logger)
    {
        _store = store;
        Identity = identity;
        _logger = logger;
    }

    public string Table => _store.Table;

    public ReplayIdentity Identity { get; }

    /// <summary>A committed-rows write still under way (awaited on shutdown).</summary>
    public Task? Outstanding => _write;

    /// <summary>What goes to ClickHouse before the group's INSERT: a pending row per member (naming every member, so any
    /// member's next owner can rebuild the group), plus the committed rows of earlier groups (one checkpoint INSERT per
    /// group instead of two); and the INSERT's settings that make a replay of it recognisable.</summary>
    public (List<CheckpointRow> Rows, IReadOnlyDictionary<string, string> Settings) BeginGroup(IReadOnlyList<PartitionBatch> group)
    {
        var members = ReplayIdentity.Members(group);
        List<CheckpointRow> rows = [.. group.Select(b => CheckpointRow.Pending(b, NextVersion(b.Partition), members)), .. _committedRows];
        _committedRows.Clear();
        return (rows, Identity.SettingsFor(members));
    }

    /// <summary>Writes the rows of <see cref="BeginGroup"/> (on the INSERT's task).</summary>
    public Task WriteAheadAsync(IReadOnlyList<CheckpointRow> rows, CancellationToken stopping) => _store.WriteAsync(rows, stopping);

    /// <summary>ClickHouse acknowledged <paramref name="batch"/>: its range is committed (written with the next group).</summary>
    public void Acknowledged(PartitionBatch batch)
    {
        if (_committedRows.Count == 0) _committedRowsSince = Environment.TickCount64;
        // After the pending version and before the partition's next batch is dispatched: versions grow.
        _committedRows.Add(CheckpointRow.Committed(batch, NextVersion(batch.Partition)));
    }

    /// <summary>The partitions went to another worker without a clean hand-over: their next owner writes their checkpoints.</summary>
    public void Forget(IReadOnlySet<TopicPartition> partitions) => _committedRows.RemoveAll(r => partitions.Contains(r.Partition));

    /// <summary>Committed rows normally go out with the next group's pending rows; when no group has gone out for
    /// <paramref name="maxAgeMs"/> (or <paramref name="wait"/>: before partitions are released, a flush, a stop), they
    /// are written on their own. One such write at a time; a failure throws (the pipeline stops).</summary>
    public void WriteCommitted(bool wait, long maxAgeMs, CancellationToken stopping)
    {
        if (_write is not null && (wait || _write.IsCompleted))
        {
            var write = _write;
            _write = null;
            try
            {
                write.GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new InvalidOperationException($"Writing committed checkpoints into {Table} failed: " + e.Message, e);
            }
        }
        if (_committedRows.Count == 0 || _write is not null) return;
        if (!wait && Environment.TickCount64 - _committedRowsSince < maxAgeMs) return;
        List<CheckpointRow> rows = [.. _committedRows];
        _committedRows.Clear();
        if (wait) _store.WriteAsync(rows, stopping).GetAwaiter().GetResult();
        else _write = _store.WriteAsync(rows, stopping);
    }

    /// <summary>Where each partition resumes, from ClickHouse's checkpoints (the source of truth), not Kafka's committed
    /// offset: after its committed range; or, when the range is pending (its INSERT may or may not have landed), after
    /// the whole pending group is replayed (<paramref name="replay"/>). Partitions without a checkpoint start from
    /// Kafka's committed offset (or the earliest).</summary>
    public List<TopicPartitionOffset> Resume(IReadOnlyList<TopicPartition> partitions, Action<string, List<TopicPartition>> replay, CancellationToken stopping)
    {
        var found = _store.LoadAsync(partitions, stopping).GetAwaiter().GetResult();
        var offsets = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var p in partitions)
        {
            _versions[p] = found.TryGetValue(p, out var cp) ? cp.Version : 0;
            offsets.Add(new TopicPartitionOffset(p, found.ContainsKey(p) ? new Offset(cp.LastOffset + 1) : Offset.Unset));
        }
        _logger.LogInformation("Resuming {Partitions} from {Checkpoints}: {Offsets}", string.Join(", ", partitions), Table,
            string.Join(", ", offsets.Select(o => $"{o.Topic}[{o.Partition.Value}]@{(o.Offset == Offset.Unset ? "kafka" : o.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))}")));
        // A pending row without members (written by hand, or by an older version) is replayed as a group of one.
        foreach (var pending in found.Where(f => f.Value.State == CheckpointState.Pending)
                     .GroupBy(f => f.Value.Members.Length > 0 ? f.Value.Members : ReplayIdentity.Member(f.Key, f.Value.FirstOffset, f.Value.LastOffset)))
            replay(pending.Key, [.. pending.Select(f => f.Key)]);
        return offsets;
    }

    /// <summary>A pending group: its INSERT may or may not have landed. Rebuilds every member batch from Kafka, in the
    /// recorded order, with the same decoding (so the same block), inserts it again (the server drops it if it had
    /// landed), and marks the partitions this worker owns committed. Members owned by other workers are read too (the
    /// group must be whole to be the same block); their owners do the same replay, which is then a duplicate the
    /// server drops, and write their own checkpoints.</summary>
    public void Replay(string members, IReadOnlyCollection<TopicPartition> owned, Func<TopicPartition, PartitionBatch> newBatch,
        Action<PartitionBatch> release, IRangeReader reader, IInsertTarget target, CancellationToken stopping)
    {
        var ranges = ReplayIdentity.ParseMembers(members);
        _logger.LogWarning("Replaying pending group {Members} (owned here: {Owned})", members, string.Join(", ", owned));
        var group = new List<PartitionBatch>(ranges.Count);
        try
        {
            foreach (var (partition, first, last) in ranges)
            {
                var batch = newBatch(partition);
                group.Add(batch);
                if (reader.Read(batch, first, last, TimeSpan.FromSeconds(60), stopping) is { } difference)
                    _logger.LogError("Replay of {Partition} {First}..{Last}: {Difference}; its rows may be duplicated", partition, first, last, difference);
            }
            var nonEmpty = group.Where(b => b.Rows.Rows > 0).ToList();
            if (nonEmpty.Count > 0) target.InsertAsync(nonEmpty, Identity.SettingsFor(members), stopping).GetAwaiter().GetResult();
            _store.WriteAsync([.. group.Where(b => owned.Contains(b.Partition)).Select(b => CheckpointRow.Committed(b, NextVersion(b.Partition)))], stopping)
                .GetAwaiter().GetResult();
        }
        finally
        {
            foreach (var batch in group) release(batch);
        }
    }

    /// <summary>The ownership epoch of the partition's newest checkpoint (0 outside two-subcluster targets).</summary>
    public uint EpochOf(TopicPartition partition) => CheckpointVersion.EpochOf(_versions.GetValueOrDefault(partition));

    /// <summary>From now on the partition's checkpoints carry <paramref name="epoch"/>: they win over every row an
    /// owner of an older epoch may still write late.</summary>
    public void EnterEpoch(TopicPartition partition, uint epoch) =>
        _versions[partition] = Math.Max(_versions.GetValueOrDefault(partition), CheckpointVersion.Of(epoch, 0));

    /// <summary>Writes, now, the row that tells the next owner where this region stopped writing the partition:
    /// committed up to <paramref name="next"/> − 1 (no range: first = last), in <paramref name="epoch"/> — the
    /// epoch that hands it over, which no row of this region had before.</summary>
    public void WriteReleased(TopicPartition partition, long next, uint epoch, CancellationToken stopping)
    {
        EnterEpoch(partition, epoch);
        var row = new CheckpointRow(partition, next - 1, next - 1, CheckpointState.Committed, 0, NextVersion(partition), "");
        _store.WriteAsync([.. _committedRows.Where(r => r.Partition == partition), row], stopping).GetAwaiter().GetResult();
        _committedRows.RemoveAll(r => r.Partition == partition);
    }

    /// <summary>Checkpoint versions only grow per partition, whichever worker writes (a worker's clock may lag the
    /// previous owner's): the newest write wins in ReplacingMergeTree and argMax. The ownership epoch sits in the top
    /// bits (<see cref="CheckpointVersion"/>).</summary>
    private ulong NextVersion(TopicPartition partition)
    {
        var previous = _versions.GetValueOrDefault(partition);
        var now = CheckpointVersion.Of(CheckpointVersion.EpochOf(previous), (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000));
        var next = Math.Max(previous + 1, now);
        _versions[partition] = next;
        return next;
    }
}

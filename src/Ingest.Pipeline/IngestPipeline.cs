using System.Collections.Concurrent;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Metrics;
using Ingest.Pipeline.Targets;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>One region's consume → decode → batch → insert → commit loop. <see cref="Run"/> blocks its dedicated
/// thread: librdkafka's rebalance callbacks run inside Consume on that thread, which is where a revoked partition's
/// batches are flushed before it is released. Each partition has its own batch and at most one batch in flight,
/// so its Kafka offsets are committed in order, and only after ClickHouse acknowledged the rows. Batches sealed
/// together (e.g. aged out at once) go in one INSERT, which ClickHouse stores as one part.</summary>
public sealed class IngestPipeline : IPipelineControl, IDisposable
{
    private readonly IngestOptions _options;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly ClickHouseTarget _target;
    private readonly MessageBytes _message = new();
    private readonly Dictionary<TopicPartition, PartitionBatch> _open = [];
    private readonly Dictionary<TopicPartition, Queue<PartitionBatch>> _sealed = [];
    private readonly List<PartitionBatch> _ready = [];
    private readonly ConcurrentQueue<(List<PartitionBatch> Batches, bool Inserted, Exception? Error)> _completed = new();
    private readonly Stack<IRowBuffer> _freeBuffers = new();
    private readonly List<TopicPartitionOffset> _commits = [];
    private readonly Dictionary<TopicPartition, ulong> _versions = [];
    private readonly HashSet<TopicPartition> _lost = [];
    private readonly List<CheckpointRow> _committedRows = [];
    private long _committedRowsSince;
    private Task? _committedWrite;
    private CheckpointStore? _checkpoints;
    private ReplayIdentity? _identity;
    private RangeReader? _rangeReader;
    private readonly long _maxAgeMs;

    /// <summary>Caps a group's size: its members are recorded in every pending checkpoint row of the group.</summary>
    private const int MaxBatchesPerInsert = 256;
    private TableSchema? _schema;
    private JsonRowDecoder? _decoder;
    private long _inFlightBytes;
    private int _inserting;
    private bool _paused;
    private bool _failed;
    private long _lastAgeCheck;
    private long _lastSchemaCheck;
    private Task<TableSchema>? _schemaCheck;
    private CancellationToken _stopping;

    public IngestPipeline(IngestOptions options, ILogger logger, IngestMetrics metrics)
    {
        options.Validate();
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _maxAgeMs = (long)options.Batching.MaxAge.TotalMilliseconds;
        _target = new ClickHouseTarget(options.ClickHouse, logger, metrics);
    }

    public string GroupId => ConsumerSettings.GroupId(_options);

    /// <summary>True while the consumer has partitions assigned (readiness).</summary>
    public bool IsAssigned { get; private set; }

    // Interim: replaced by the command inbox and published snapshot.
    public PipelineStatus Status => PipelineStatus.Starting(_options.Region, GroupId) with { State = _failed ? PipelineState.Failed : IsAssigned ? PipelineState.Running : PipelineState.Waiting };

    public Task<PauseResult> PauseAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => throw new NotSupportedException();

    public Task<PauseResult> ResumeAsync(PartitionSelector selector, PauseReasons reason, CancellationToken ct) => throw new NotSupportedException();

    public Task<FlushResult> FlushAsync(PartitionSelector selector, CancellationToken ct) => throw new NotSupportedException();

    /// <summary>Consumes until <paramref name="stopping"/> fires, then flushes what it holds, commits and leaves the group.</summary>
    public void Run(CancellationToken stopping)
    {
        _stopping = stopping;
        PrepareTarget(stopping);

        using var consumer = new ConsumerBuilder<Ignore, int>(ConsumerSettings.Build(_options, _decoder?.NeedsTimestamp == true))
            .SetValueDeserializer(_message)
            .SetPartitionsAssignedHandler((c, parts) => OnAssigned(parts))
            .SetPartitionsRevokedHandler((c, parts) =>
            {
                _logger.LogInformation("Revoking {Partitions}: flushing their batches first", string.Join(", ", parts));
                FlushAndWait(c, parts.Select(p => p.TopicPartition).ToHashSet());
                IsAssigned = false;
            })
            .SetPartitionsLostHandler((c, parts) => Abandon(parts.Select(p => p.TopicPartition).ToHashSet()))
            .SetErrorHandler((_, e) => _logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => OnKafkaLog(m))
            .Build();

        consumer.Subscribe(_options.Kafka.Topics);
        _logger.LogInformation("Consuming {Topics} as group {Group} into {Table} ({Format})", string.Join(",", _options.Kafka.Topics), GroupId, _options.ClickHouse.Table, _options.ClickHouse.Format);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                DrainCompleted(consumer);
                Dispatch();
                ApplyBackpressure(consumer);
                var result = consumer.Consume(_paused ? 20 : 50);
                if (result is not null) Take(result);
                SealAged();
                WriteCommittedRows(wait: false);
                RefreshSchema();
            }
            FlushAndWait(consumer, null);
        }
        finally
        {
            // Close leaves the group at once (the revoke handler flushes), instead of waiting for the session timeout.
            consumer.Close();
        }
    }

    /// <summary>Before consuming: the table's columns, the checkpoint table on every endpoint, how replays are
    /// identified on this server, and what delivery guarantee all that gives (logged, and exported).</summary>
    private void PrepareTarget(CancellationToken stopping)
    {
        if (_options.ClickHouse.Format == InsertFormat.Native)
        {
            UseSchema(_target.LoadSchemaAsync(stopping).GetAwaiter().GetResult());
            _lastSchemaCheck = Environment.TickCount64;
        }

        var engine = _target.ReadEngineAsync(stopping).GetAwaiter().GetResult();
        if (_options.Checkpoints.Enabled)
        {
            var table = _options.Checkpoints.Table ?? $"{ClickHouseText.SplitTable(_options.ClickHouse.Table).Database}.ingest_checkpoints";
            _checkpoints = new CheckpointStore(_target, table, GroupId);
            var replicated = engine.Engine.StartsWith("Replicated", StringComparison.Ordinal);
            foreach (var failure in _checkpoints.EnsureAsync(_options.Checkpoints.Engine, replicated, stopping).GetAwaiter().GetResult())
                _logger.LogWarning("Checkpoint table {Table} not created on {Failure}; create it there before failing over to it", table, failure);
            _identity = new ReplayIdentity(ReplayIdentity.ServerHasTokensAsync(_target, stopping).GetAwaiter().GetResult(), GroupId, _options.ClickHouse.Table);
            foreach (var name in ReplayIdentity.ControlledSettings.Where(_options.ClickHouse.Settings.ContainsKey))
                _logger.LogWarning("Ingest:ClickHouse:Settings:{Setting} is ignored: with checkpoints on, Ingest sets it itself (docs/exactly-once.md)", name);
        }
        var guarantee = DeliveryGuarantee.ReadAsync(_target, engine, _checkpoints is not null, _identity?.UsesTokens == true,
            _decoder?.FillsOffset == true, stopping).GetAwaiter().GetResult();
        _metrics.ExactlyOnce = guarantee.ExactlyOnce ? 1 : 0;
        _logger.Log(guarantee.ExactlyOnce ? LogLevel.Information : LogLevel.Warning, "Delivery into {Table}: {Guarantee}", _options.ClickHouse.Table, guarantee.Description);
        foreach (var warning in guarantee.Warnings) _logger.LogWarning("Delivery into {Table}: {Warning}", _options.ClickHouse.Table, warning);
    }

    private void Take(ConsumeResult<Ignore, int> result)
    {
        _metrics.MessageConsumed();
        var tp = result.TopicPartition;
        if (!_open.TryGetValue(tp, out var batch))
        {
            batch = new PartitionBatch(tp, RentBuffer());
            _open.Add(tp, batch);
        }
        var offset = result.Offset.Value;
        var error = batch.Add(offset, result.Message.Timestamp.UnixTimestampMs, _message.Current);
        if (error is not null)
        {
            _metrics.MessageRejected();
            _logger.LogWarning("Skipping {Topic}/{Partition}@{Offset}: {Error}", tp.Topic, tp.Partition.Value, offset, error);
        }
        if (batch.Rows.Rows >= _options.Batching.MaxRows || batch.Rows.SourceBytes >= _options.Batching.MaxBytes) Seal(batch);
    }

    private IRowBuffer RentBuffer()
    {
        if (_freeBuffers.TryPop(out var buffer)) return buffer;
        return _options.ClickHouse.Format == InsertFormat.Native
            ? new NativeRowBuffer(new ColumnBatch(_schema!), _decoder!)
            : new JsonRowsBuffer();
    }

    private void SealAged()
    {
        var now = Environment.TickCount64;
        if (now - _lastAgeCheck < 10) return;
        _lastAgeCheck = now;
        List<PartitionBatch>? due = null;
        foreach (var batch in _open.Values)
        {
            if (now - batch.StartedAtTicks >= _maxAgeMs) (due ??= []).Add(batch);
        }
        if (due is not null)
        {
            foreach (var batch in due) Seal(batch);
        }
    }

    /// <summary>Closes the partition's open batch and queues it behind any earlier one of the partition.</summary>
    private void Seal(PartitionBatch batch)
    {
        _open.Remove(batch.Partition);
        if (!_sealed.TryGetValue(batch.Partition, out var queue)) _sealed[batch.Partition] = queue = new Queue<PartitionBatch>();
        queue.Enqueue(batch);
        _inFlightBytes += batch.Rows.SourceBytes;
        if (queue.Count == 1) _ready.Add(batch);
    }

    /// <summary>Starts inserts while fewer than MaxConcurrentInserts run: each takes ready batches (the oldest sealed
    /// batch of partitions with nothing in flight) up to MaxBytes.</summary>
    private void Dispatch()
    {
        while (_ready.Count > 0 && _inserting < _options.ClickHouse.MaxConcurrentInserts)
        {
            var group = new List<PartitionBatch>();
            long bytes = 0;
            var taken = 0;
            for (; taken < _ready.Count; taken++)
            {
                var batch = _ready[taken];
                if (bytes > 0 && bytes + batch.Rows.SourceBytes > _options.Batching.MaxBytes) break;
                if (group.Count == MaxBatchesPerInsert) break;
                if (batch.Rows.Rows == 0)
                {
                    // Every message was rejected: nothing to insert, but the offsets are consumed.
                    _completed.Enqueue(([batch], false, null));
                    continue;
                }
                bytes += batch.Rows.SourceBytes;
                group.Add(batch);
            }
            _ready.RemoveRange(0, taken);
            if (group.Count == 0) continue;
            _inserting++;
            var checkpoints = _checkpoints;
            var members = checkpoints is null ? "" : ReplayIdentity.Members(group);
            var settings = _identity?.SettingsFor(members);
            // The committed rows of earlier groups ride along with this group's pending rows: one checkpoint INSERT
            // per group instead of two.
            List<CheckpointRow>? rows = null;
            if (checkpoints is not null)
            {
                rows = [.. group.Select(b => CheckpointRow.Pending(b, NextVersion(b.Partition), members)), .. _committedRows];
                _committedRows.Clear();
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    // Write-ahead: the group is on record before its rows can be, so a crash at any point leaves
                    // either committed ranges or a pending group that is replayed identically.
                    if (checkpoints is not null) await checkpoints.WriteAsync(rows!, _stopping).ConfigureAwait(false);
                    await _target.InsertAsync(group, settings, _stopping).ConfigureAwait(false);
                    _completed.Enqueue((group, true, null));
                }
                catch (Exception e)
                {
                    _completed.Enqueue((group, true, e));
                }
            });
        }
    }

    /// <summary>Commits what ClickHouse acknowledged, recycles buffers and readies each partition's next batch.
    /// An insert that failed for good stops the pipeline: its offsets (and later ones) stay uncommitted.</summary>
    private void DrainCompleted(IConsumer<Ignore, int> consumer)
    {
        _commits.Clear();
        while (_completed.TryDequeue(out var done))
        {
            var (group, inserted, error) = done;
            if (inserted) _inserting--;
            if (error is SchemaMismatchException mismatch)
            {
                Rewind(consumer, group, mismatch);
                continue;
            }
            if (error is not null)
            {
                // Stop here: nothing after the failed batch is committed; closing the consumer must not wait for it.
                _failed = true;
                throw error is OperationCanceledException ? error : new InvalidOperationException(error.Message, error);
            }
            foreach (var batch in group)
            {
                if (_checkpoints is not null && inserted && !_lost.Contains(batch.Partition))
                {
                    if (_committedRows.Count == 0) _committedRowsSince = Environment.TickCount64;
                    // After the pending version and before the partition's next batch is dispatched: versions grow.
                    _committedRows.Add(CheckpointRow.Committed(batch, NextVersion(batch.Partition)));
                }
                if (!_lost.Remove(batch.Partition)) _commits.Add(batch.CommitOffset);
                _inFlightBytes -= batch.Rows.SourceBytes;
                var queue = _sealed[batch.Partition];
                queue.Dequeue();
                Recycle(batch);
                if (queue.Count > 0) _ready.Add(queue.Peek());
                else _sealed.Remove(batch.Partition);
            }
        }
        if (_commits.Count == 0) return;
        try
        {
            consumer.Commit(_commits);
        }
        catch (KafkaException e)
        {
            // The rows are stored; a lost commit only means a replay after a rebalance or restart.
            _logger.LogWarning("Offset commit failed ({Reason}); rows are stored, a rebalance may replay them", e.Error.Reason);
        }
    }

    /// <summary>The group took these partitions away without a clean revoke (this worker missed its session: a long
    /// pause, a network split), so another worker may own them already. Nothing more is sent for them: open and
    /// queued batches are dropped, and the next owner resumes from the checkpoints.
    /// An INSERT already under way cannot be recalled; it completes, but its offsets are not committed to Kafka
    /// (docs/exactly-once.md, "Limits").</summary>
    private void Abandon(HashSet<TopicPartition> lost)
    {
        _metrics.PartitionsLost(lost.Count);
        _logger.LogWarning("Lost {Partitions} (session expired?): dropping their unsent batches; their next owner resumes from the checkpoints",
            string.Join(", ", lost));
        _committedRows.RemoveAll(r => lost.Contains(r.Partition));
        foreach (var p in lost)
        {
            if (_open.Remove(p, out var open)) open.Rows.Dispose();
            if (!_sealed.TryGetValue(p, out var queue)) continue;
            // The queue's head is in flight unless it still waits in _ready.
            var inFlight = _ready.Remove(queue.Peek()) ? null : queue.Peek();
            foreach (var batch in queue)
            {
                if (batch == inFlight) continue;
                _inFlightBytes -= batch.Rows.SourceBytes;
                batch.Rows.Dispose();
            }
            queue.Clear();
            if (inFlight is null)
            {
                _sealed.Remove(p);
            }
            else
            {
                queue.Enqueue(inFlight);
                _lost.Add(p);
            }
        }
        IsAssigned = false;
    }

    /// <summary>Resumes each partition from its checkpoint in ClickHouse (the source of truth), not from Kafka's
    /// committed offset: after its committed range; or, when the range is pending (its INSERT may or may not have
    /// landed), after replaying the whole pending group first (<see cref="ReplayGroup"/>). Partitions without a
    /// checkpoint start from Kafka's committed offset (or the earliest).</summary>
    private IEnumerable<TopicPartitionOffset> OnAssigned(List<TopicPartition> parts)
    {
        IsAssigned = parts.Count > 0;
        _paused = false;
        if (_checkpoints is null)
        {
            _logger.LogInformation("Assigned {Partitions}", string.Join(", ", parts));
            return parts.Select(p => new TopicPartitionOffset(p, Offset.Unset));
        }
        var found = _checkpoints.LoadAsync(parts, _stopping).GetAwaiter().GetResult();
        var offsets = new List<TopicPartitionOffset>(parts.Count);
        foreach (var p in parts)
        {
            _versions[p] = found.TryGetValue(p, out var cp) ? cp.Version : 0;
            offsets.Add(new TopicPartitionOffset(p, found.ContainsKey(p) ? new Offset(cp.LastOffset + 1) : Offset.Unset));
        }
        _logger.LogInformation("Assigned {Partitions}; resuming from {Checkpoints}: {Offsets}", string.Join(", ", parts), _checkpoints.Table,
            string.Join(", ", offsets.Select(o => $"{o.Topic}[{o.Partition.Value}]@{(o.Offset == Offset.Unset ? "kafka" : o.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))}")));
        // A pending row without members (written by hand, or by an older version) is replayed as a group of one.
        foreach (var pending in found.Where(f => f.Value.State == CheckpointState.Pending)
                     .GroupBy(f => f.Value.Members.Length > 0 ? f.Value.Members : ReplayIdentity.Member(f.Key, f.Value.FirstOffset, f.Value.LastOffset)))
            ReplayGroup(pending.Key, pending.Select(f => f.Key).ToList());
        return offsets;
    }

    /// <summary>A pending group: its INSERT may or may not have landed. Rebuilds every member batch from Kafka, in
    /// the recorded order, with the same decoding (so the same block), inserts it again (the server drops it if it
    /// had landed), and marks the partitions this worker owns committed. Members owned by other workers are read
    /// too (the group must be whole to be the same block); their owners do the same replay, which is then a
    /// duplicate the server drops, and write their own checkpoints.</summary>
    private void ReplayGroup(string members, List<TopicPartition> owned)
    {
        var ranges = ReplayIdentity.ParseMembers(members);
        _logger.LogWarning("Replaying pending group {Members} (owned here: {Owned})", members, string.Join(", ", owned));
        _metrics.Replayed();
        _rangeReader ??= new RangeReader(_options, _decoder?.NeedsTimestamp == true);
        var group = new List<PartitionBatch>(ranges.Count);
        try
        {
            foreach (var (partition, first, last) in ranges)
            {
                var batch = new PartitionBatch(partition, RentBuffer());
                group.Add(batch);
                if (_rangeReader.Read(batch, first, last, TimeSpan.FromSeconds(60), _stopping) is { } difference)
                    _logger.LogError("Replay of {Partition} {First}..{Last}: {Difference}; its rows may be duplicated", partition, first, last, difference);
            }
            var nonEmpty = group.Where(b => b.Rows.Rows > 0).ToList();
            if (nonEmpty.Count > 0) _target.InsertAsync(nonEmpty, _identity!.SettingsFor(members), _stopping).GetAwaiter().GetResult();
            _checkpoints!.WriteAsync([.. group.Where(b => owned.Contains(b.Partition)).Select(b => CheckpointRow.Committed(b, NextVersion(b.Partition)))], _stopping)
                .GetAwaiter().GetResult();
        }
        finally
        {
            foreach (var batch in group) Recycle(batch);
        }
    }

    /// <summary>Checkpoint versions only grow per partition, whichever worker writes (a worker's clock may lag the
    /// previous owner's): the newest write wins in ReplacingMergeTree and argMax.</summary>
    private ulong NextVersion(TopicPartition partition)
    {
        var now = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
        var next = Math.Max(_versions.GetValueOrDefault(partition) + 1, now);
        _versions[partition] = next;
        return next;
    }

    private void Recycle(PartitionBatch batch)
    {
        batch.Reset();
        // Buffers hold columns of the schema they were made for; after a schema change only current ones are reused.
        if (batch.Rows is NativeRowBuffer native && native.Columns.Schema != _schema) batch.Rows.Dispose();
        else _freeBuffers.Push(batch.Rows);
    }

    private void UseSchema(TableSchema schema)
    {
        _schema = schema;
        _decoder = new JsonRowDecoder(schema, _options.Mapping);
        _logger.LogInformation("Target {Table}: {Columns}", schema.Table, string.Join(", ", schema.Columns.Select(c => $"{c.Name} {c.Type}")));
        // Open batches keep the columns they were decoded into and go out as they are; new ones use the new schema.
        foreach (var batch in _open.Values.ToList()) Seal(batch);
        while (_freeBuffers.TryPop(out var buffer)) buffer.Dispose();
    }

    /// <summary>Reads the table's columns every SchemaRefreshInterval in the background; a changed table is used
    /// for the batches started from then on.</summary>
    private void RefreshSchema()
    {
        if (_schema is null) return;
        if (_schemaCheck is null)
        {
            var interval = (long)_options.ClickHouse.SchemaRefreshInterval.TotalMilliseconds;
            if (interval > 0 && Environment.TickCount64 - _lastSchemaCheck >= interval)
                _schemaCheck = _target.LoadSchemaAsync(_stopping);
            return;
        }
        if (!_schemaCheck.IsCompleted) return;
        var check = _schemaCheck;
        _schemaCheck = null;
        _lastSchemaCheck = Environment.TickCount64;
        if (check.IsCompletedSuccessfully)
        {
            AdoptIfChanged(check.Result);
        }
        else if (!_stopping.IsCancellationRequested)
        {
            _logger.LogWarning("Reading the columns of {Table} again failed, keeping the known ones: {Error}", _schema.Table, check.Exception?.GetBaseException().Message);
        }
    }

    /// <summary>ClickHouse refused the group because the table changed under it. If the table's columns did change,
    /// its partitions' batches (the failed ones and every later one) are dropped and the partitions sought back to
    /// the failed batches' first offsets: the messages are decoded again into the new columns. Nothing was committed
    /// for them, so nothing is lost. If the columns are unchanged, retrying cannot help: the pipeline stops.</summary>
    private void Rewind(IConsumer<Ignore, int> consumer, List<PartitionBatch> group, SchemaMismatchException error)
    {
        var schema = _target.LoadSchemaAsync(_stopping).GetAwaiter().GetResult();
        if (_schema is null || schema.Describe == _schema.Describe)
            throw new InvalidOperationException(error.Message + " The table's columns did not change, so Ingest cannot fix this by itself.", error);
        _logger.LogWarning("{Error} Its columns changed: decoding {Batches} again from Kafka with them", error.Message, string.Join(", ", group));
        foreach (var failed in group)
        {
            var partition = failed.Partition;
            var from = failed.FirstOffset;
            foreach (var batch in _sealed[partition])
            {
                _inFlightBytes -= batch.Rows.SourceBytes;
                batch.Rows.Dispose();
            }
            _sealed.Remove(partition);
            if (_open.Remove(partition, out var open)) open.Rows.Dispose();
            consumer.Seek(new TopicPartitionOffset(partition, new Offset(from)));
        }
        AdoptIfChanged(schema);
    }

    /// <summary>Takes up the table's columns when they differ from the known ones (new batches decode into them).</summary>
    private void AdoptIfChanged(TableSchema schema)
    {
        if (_schema is null || schema.Describe == _schema.Describe) return;
        _logger.LogWarning("Target {Table} changed; new batches use its new columns", schema.Table);
        _metrics.SchemaChanged();
        UseSchema(schema);
    }

    /// <summary>Committed rows normally go out with the next group's pending rows; when no group has gone out for
    /// MaxAge (or <paramref name="wait"/>: before partitions are released or the worker stops), they are written on
    /// their own. One such write at a time; a failure stops the pipeline like a failed INSERT.</summary>
    private void WriteCommittedRows(bool wait)
    {
        if (_committedWrite is not null && (wait || _committedWrite.IsCompleted))
        {
            var write = _committedWrite;
            _committedWrite = null;
            try
            {
                write.GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failed = true;
                throw new InvalidOperationException("Writing committed checkpoints failed: " + e.Message, e);
            }
        }
        if (_committedRows.Count == 0 || _committedWrite is not null) return;
        if (!wait && Environment.TickCount64 - _committedRowsSince < _maxAgeMs) return;
        List<CheckpointRow> rows = [.. _committedRows];
        _committedRows.Clear();
        if (wait) _checkpoints!.WriteAsync(rows, _stopping).GetAwaiter().GetResult();
        else _committedWrite = _checkpoints!.WriteAsync(rows, _stopping);
    }

    /// <summary>Bounded memory: above MaxInFlightBytes of unacknowledged batches, stop fetching until half drained.</summary>
    private void ApplyBackpressure(IConsumer<Ignore, int> consumer)
    {
        if (!_paused && _inFlightBytes > _options.Batching.MaxInFlightBytes)
        {
            consumer.Pause(consumer.Assignment);
            _paused = true;
            _metrics.Paused();
            _logger.LogInformation("Pausing consumption: {Bytes:N0} bytes await ClickHouse", _inFlightBytes);
        }
        else if (_paused && _inFlightBytes <= _options.Batching.MaxInFlightBytes / 2)
        {
            consumer.Resume(consumer.Assignment);
            _paused = false;
            _logger.LogInformation("Resuming consumption");
        }
    }

    /// <summary>Seals the open batches of <paramref name="partitions"/> (all when null) and waits until every batch of
    /// them is acknowledged and committed.</summary>
    private void FlushAndWait(IConsumer<Ignore, int> consumer, HashSet<TopicPartition>? partitions)
    {
        if (_failed) return;
        foreach (var batch in _open.Values.Where(b => partitions is null || partitions.Contains(b.Partition)).ToList()) Seal(batch);
        while (_sealed.Keys.Any(p => partitions is null || partitions.Contains(p)))
        {
            DrainCompleted(consumer);
            Dispatch();
            Thread.Sleep(2);
        }
        // Before letting partitions go, their ranges are marked committed, so the next owner does not replay them.
        WriteCommittedRows(wait: true);
    }

    private void OnKafkaLog(LogMessage m)
    {
        // librdkafka logs an error-triggered reset (e.g. the committed offset was already deleted by retention)
        // as a warning with facility OFFSET: messages between the two positions will never be read.
        if (m.Facility == "OFFSET" && m.Level <= SyslogLevel.Warning && m.Message.Contains("offset reset", StringComparison.Ordinal))
        {
            _metrics.OffsetReset();
            _logger.LogError("Kafka offset reset, messages are skipped: {Message}", m.Message);
            return;
        }
        _logger.LogDebug("librdkafka {Facility}: {Message}", m.Facility, m.Message);
    }

    public void Dispose()
    {
        foreach (var b in _open.Values) b.Rows.Dispose();
        foreach (var q in _sealed.Values)
        {
            foreach (var b in q) b.Rows.Dispose();
        }
        while (_freeBuffers.TryPop(out var buffer)) buffer.Dispose();
        _message.Dispose();
        _rangeReader?.Dispose();
        _target.Dispose();
    }
}

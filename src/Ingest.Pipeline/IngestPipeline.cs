using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Delivery;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Metrics;
using Ingest.Pipeline.Targets;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>One region's consume → decode → batch → insert → checkpoint → commit loop. <see cref="Run"/> blocks its
/// dedicated thread, which alone changes pipeline state: librdkafka's rebalance callbacks run inside Consume on it,
/// other threads' commands are drained on it, and what they may read is published as a <see cref="Status"/> snapshot.
/// Each partition has at most one batch in flight, so its offsets are committed in order, only after ClickHouse
/// acknowledged the rows; batches sealed together go in one INSERT per table.</summary>
public sealed partial class IngestPipeline : IPipelineControl, IDisposable
{
    /// <summary>Caps a group's size: its members are recorded in every pending checkpoint row of the group.</summary>
    private const int MaxBatchesPerInsert = 256;

    /// <summary>Messages taken per turn while they are there. The rest of a turn (commands, outcomes, dispatch, ages,
    /// ownership, checkpoints) cost about as much as decoding a message; once per 512 messages it is noise, and a
    /// turn still takes well under a millisecond at ~1 µs per message.</summary>
    private const int MessagesPerTurn = 512;

    /// <summary>Messages in Kafka past a route's consuming partitions' positions from which it counts as behind
    /// (checked with the status, every 250 ms): its rows are late already, and fewer, larger INSERTs drain the backlog
    /// sooner. Live traffic that the pipeline keeps up with leaves a few fetches' worth.</summary>
    private const long BehindMessages = 100_000;

    private static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(250);

    private readonly IngestOptions _options;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly Func<IReadOnlyList<Route>, IPartitionConsumer> _newConsumer;
    private readonly Func<IReadOnlyList<Route>, IRangeReader> _newRangeReader;
    private readonly CommandInbox _commands = new();
    private readonly InsertScheduler _inserts;
    private readonly PartitionBatches _batches;
    private readonly Dictionary<string, Route> _routeOf = [];
    private readonly List<TopicPartitionOffset> _commits = [];
    private readonly List<PartitionBatch> _empty = [];
    private readonly List<PendingFlush> _flushes = [];
    private readonly Func<TopicPartition, int> _sendableRoute;
    private readonly Func<int, bool> _fillsInserts;
    private readonly Func<TopicPartition, RowBufferPool> _poolOf;
    private readonly CancellationTokenSource _abort = new();
    private readonly long _maxAgeMs;
    private IReadOnlyList<Route> _routes;
    private KafkaSource? _source;
    private IRangeReader? _rangeReader;
    private CancellationToken _stopping;
    /// <summary>The lifecycle: Starting, Waiting (in the group: consuming whatever is assigned), Stopping, Stopped or Failed.</summary>
    private PipelineState _state = PipelineState.Starting;
    private string? _fault;
    private bool _backpressure;
    private long _lastAgeCheck;
    private long _lastStatus;
    private volatile PipelineStatus _status;
    private bool _disposed;

    public IngestPipeline(IngestOptions options, ILogger logger, IngestMetrics metrics)
        : this(options, logger, metrics, routes: null,
            routes => new KafkaConsumer(ConsumerSettings.Build(options, routes.Any(r => r.NeedsTimestamp)), logger, metrics, routes.Any(r => r.NeedsTimestamp)),
            routes => new RangeReader(options, routes.Any(r => r.NeedsTimestamp)))
    {
    }

    /// <summary>A pipeline over prepared <paramref name="routes"/> (null: prepared by <see cref="Run"/> from the options)
    /// and the given consumer and range reader: the seams unit tests use.</summary>
    internal IngestPipeline(IngestOptions options, ILogger logger, IngestMetrics metrics, IReadOnlyList<Route>? routes,
        Func<IReadOnlyList<Route>, IPartitionConsumer> newConsumer, Func<IReadOnlyList<Route>, IRangeReader> newRangeReader)
    {
        options.Validate();
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _newConsumer = newConsumer;
        _newRangeReader = newRangeReader;
        _routes = routes ?? [];
        _maxAgeMs = (long)options.Batching.MaxAge.TotalMilliseconds;
        _inserts = new InsertScheduler(options.ClickHouse.MaxConcurrentInserts);
        _batches = new PartitionBatches(b => RouteOf(b.Partition.Topic).Pool.Return(b.Rows), CountSealed);
        _sendableRoute = p => RouteOf(p.Topic) is { Error: null } r && MaySend(r) ? r.Index : -1;
        // Under backpressure nothing more is consumed: a group waiting to fill would only wait.
        _fillsInserts = i => _routes[i].Behind && !_backpressure;
        _poolOf = p => RouteOf(p.Topic).Pool;
        _status = PipelineStatus.Starting(options.Region, GroupId);
        metrics.ObserveStatus(() => _status);
    }

    public string GroupId => ConsumerSettings.GroupId(_options);

    public PipelineStatus Status => _status;

    /// <summary>Consumes until <paramref name="stopping"/> fires, then flushes what it holds, commits and leaves the group.</summary>
    public void Run(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _abort.Token);
        _stopping = linked.Token;
        try
        {
            var prepared = _routes.Count > 0;
            if (!prepared) _routes = [.. _options.EffectiveRoutes().Select((r, i) => RoutePreparation.PrepareAsync(i, _options, r, _logger, _metrics, _stopping).GetAwaiter().GetResult())];
            foreach (var route in _routes)
            {
                foreach (var topic in route.Topics) _routeOf[topic] = route;
            }
            _source = new KafkaSource(_newConsumer(_routes), _logger);
            var topics = prepared ? [.. _routes.SelectMany(r => r.Topics).Distinct()] : _options.Subscription();
            _source.Subscribe(topics, new Rebalance(this));
            _logger.LogInformation("Consuming {Topics} as group {Group} into {Tables}", string.Join(",", topics), GroupId, string.Join(", ", _routes.Select(r => r.Target.Table)));
            SetState(PipelineState.Waiting);
            while (!stopping.IsCancellationRequested) Turn();
            SetState(PipelineState.Stopping);
            FlushAndWait(_ => true);
            SetState(PipelineState.Stopped);
        }
        catch (Exception e)
        {
            _fault = e.Message;
            SetState(stopping.IsCancellationRequested && e is OperationCanceledException ? PipelineState.Stopped : PipelineState.Failed);
            // In-flight INSERTs give up now: nothing after the failure is committed.
            _abort.Cancel();
            throw;
        }
        finally
        {
            _commands.Close(_state);
            foreach (var flush in _flushes) flush.Done.TrySetException(new PipelineNotRunningException(_state));
            _flushes.Clear();
            // Close leaves the group at once (the revoke handler flushes), instead of waiting for the session timeout.
            if (_state != PipelineState.Failed) _source?.Close();
            Publish();
        }
    }

    /// <summary>One turn of the loop: commands, acknowledgements, new INSERTs, then the messages already fetched, up to
    /// <see cref="MessagesPerTurn"/>.</summary>
    private void Turn()
    {
        _commands.Drain();
        DrainOutcomes();
        Dispatch();
        Commit();
        ApplyBackpressure();
        var timeoutMs = _source!.AllPaused || _source.Assigned.Count == 0 ? 20 : 50;
        for (var i = 0; i < MessagesPerTurn; i++)
        {
            // A sealed batch ends the burst: backpressure and dispatch look at it before more is taken.
            if (_source.Next(i == 0 ? timeoutMs : 0) is not { } message || Take(message)) break;
        }
        SealAged();
        FollowOwnership();
        foreach (var route in _routes)
        {
            route.Checkpoints?.WriteCommitted(wait: false, _maxAgeMs, _stopping);
            if (route.Schema?.Poll(_stopping) == true) route.SchemaChanged();
        }
        CompleteFlushes();
        if (Environment.TickCount64 - _lastStatus >= StatusInterval.TotalMilliseconds)
        {
            WaitForWritableTargets();
            MarkBehind();
            Publish();
        }
    }

    /// <summary>A target that answers read-only (its replicas lost Keeper) cannot take rows until Keeper is back: its
    /// route's partitions wait (<see cref="PauseReasons.TargetReadOnly"/>) instead of filling memory up to
    /// MaxInFlightBytes; the INSERT under way keeps retrying and lifts the wait when it lands.</summary>
    private void WaitForWritableTargets()
    {
        foreach (var route in _routes)
        {
            var readOnly = route.Target.Status.ReadOnly;
            if (readOnly == route.WaitsForWritable) continue;
            route.WaitsForWritable = readOnly;
            _logger.Log(readOnly ? LogLevel.Warning : LogLevel.Information, readOnly
                ? "Target {Table} is read-only (Keeper lost?): route {Route} waits until it is writable again"
                : "Target {Table} is writable again: route {Route} goes on", route.Target.Table, route.Name);
            foreach (var p in _source!.Assigned.Where(p => route.Takes(p.Topic)).ToList())
            {
                if (readOnly) _source.Add(PartitionSelector.Of(p), PauseReasons.TargetReadOnly, rule: false);
                else _source.Remove(PartitionSelector.Of(p), PauseReasons.TargetReadOnly);
            }
        }
    }

    private void MarkBehind()
    {
        Span<long> waiting = stackalloc long[_routes.Count];
        foreach (var p in _source!.Assigned)
        {
            // Partitions waiting for another reason than backpressure are not being drained.
            if ((_source.Reasons(p) & ~PauseReasons.Backpressure) != PauseReasons.None) continue;
            if (_source.HighWatermark(p) is { } high && _source.Position(p) is { } position) waiting[RouteOf(p.Topic).Index] += Math.Max(0, high - position);
        }
        foreach (var route in _routes) route.Behind = waiting[route.Index] > BehindMessages;
    }

    /// <summary>Adds the message to its partition's open batch; true when that sealed the batch.</summary>
    private bool Take(ConsumedMessage m)
    {
        var batch = _batches.Open(m.Partition, _poolOf);
        var error = batch.Add(m.Offset, m.TimestampMs, _source!.Value);
        if (error is not null) _logger.LogWarning("Skipping {Topic}/{Partition}@{Offset}: {Error}", m.Partition.Topic, m.Partition.Partition.Value, m.Offset, error);
        if (batch.Rows.Rows < _options.Batching.MaxRows && batch.Rows.SourceBytes < _options.Batching.MaxBytes) return false;
        _batches.Seal(batch);
        return true;
    }

    private void CountSealed(PartitionBatch batch)
    {
        _metrics.Consumed(batch.Partition.Topic, batch.Rows.Rows + batch.Rejected);
        if (batch.Rejected > 0) _metrics.Rejected(batch.Partition.Topic, batch.Rejected);
    }

    private void SealAged()
    {
        var now = Environment.TickCount64;
        if (now - _lastAgeCheck < 10) return;
        _lastAgeCheck = now;
        _batches.SealAged(now, _maxAgeMs);
    }

    /// <summary>Starts INSERTs while fewer than MaxConcurrentInserts run, each of one table's ready batches up to
    /// MaxBytes: pending checkpoint rows first (write-ahead: a crash at any point leaves either committed ranges or a
    /// pending group that is replayed identically), then the rows. While a route is behind, its group waits until it
    /// is full (MaxBytes), its oldest batch was sealed MaxAge ago, or no partition can add to it (one batch per
    /// partition; not under backpressure): a backlog goes out in few, large INSERTs. ClickHouse
    /// writes a part per INSERT and merges the parts again later, and merging is most of its work: on a 2.5M-message
    /// backlog, ~90 INSERTs of ~28k rows made it merge 5.0-6.3M rows (3.9-4.8 CPU-s per million rows; 2.2 with merges
    /// stopped), ~28 of ~90k rows 2.4-2.5M (2.8 CPU-s). Keeping up, a group goes at once: holding it cost ~120 ms of
    /// p99 latency at 138k messages/s.</summary>
    private void Dispatch()
    {
        while (_inserts.HasCapacity)
        {
            _empty.Clear();
            var group = _batches.TakeGroup(_sendableRoute, _options.Batching.MaxBytes, MaxBatchesPerInsert, _empty, _fillsInserts,
                Environment.TickCount64 - _maxAgeMs);
            // Every message was rejected: nothing to insert, but the offsets are consumed.
            foreach (var batch in _empty) Acknowledge(RouteOf(batch.Partition.Topic), batch);
            if (group.Count == 0)
            {
                if (_empty.Count == 0) return;
                continue;
            }
            var route = RouteOf(group[0].Partition.Topic);
            var ledger = route.Checkpoints;
            var (rows, settings) = ledger is null ? (null, null) : ledger.BeginGroup(group);
            var stopping = _stopping;
            _inserts.Start(route, group, async () =>
            {
                if (rows is not null) await ledger!.WriteAheadAsync(rows, stopping).ConfigureAwait(false);
                await route.Target.InsertAsync(group, settings, stopping).ConfigureAwait(false);
            });
        }
    }

    /// <summary>Takes the outcomes of finished INSERTs: acknowledged batches are checkpointed and committed; a table that
    /// changed under its batches has them decoded again; a table that refused them for good fails its route. Anything
    /// else stops the pipeline, with nothing after the failed batches committed.</summary>
    private void DrainOutcomes()
    {
        while (_inserts.TryTake(out var outcome))
        {
            switch (outcome.Error)
            {
                case null:
                    foreach (var batch in outcome.Batches) Acknowledge(outcome.Route, batch);
                    break;
                case SchemaMismatchException mismatch:
                    Rewind(outcome, mismatch);
                    break;
                case TargetRefusedException refused:
                    FailRoute(outcome.Route, refused.Message, outcome.Batches);
                    break;
                case OperationCanceledException:
                    throw outcome.Error;
                default:
                    throw new InvalidOperationException(outcome.Error.Message, outcome.Error);
            }
        }
    }

    private void Acknowledge(Route route, PartitionBatch batch)
    {
        if (!_batches.IsReleased(batch.Partition))
        {
            route.Checkpoints?.Acknowledged(batch);
            _commits.Add(batch.CommitOffset);
        }
        _batches.Complete(batch);
    }

    private void Commit()
    {
        _source!.Commit(_commits);
        _commits.Clear();
    }

    /// <summary>ClickHouse refused the group because the table changed under it. If the table's columns differ from the
    /// ones the batches were decoded into, the partitions' batches (the failed ones and every later one) are dropped and
    /// the partitions sought back to the failed batches' first offsets: the messages are decoded again into the new
    /// columns. Nothing was committed for them, so nothing is lost. If the columns are the same, retrying cannot help:
    /// the route fails.</summary>
    private void Rewind(InsertOutcome outcome, SchemaMismatchException error)
    {
        var route = outcome.Route;
        var builtWith = (outcome.Batches[0].Rows as NativeRowBuffer)?.Columns.Schema;
        if (route.Schema is null || builtWith is null)
        {
            FailRoute(route, error.Message, outcome.Batches);
            return;
        }
        var rewind = route.Schema.ShouldRewind(builtWith, _stopping, out var changed);
        if (changed) route.SchemaChanged();
        if (!rewind)
        {
            FailRoute(route, error.Message + " The table's columns did not change, so Ingest cannot fix this by itself.", outcome.Batches);
            return;
        }
        _logger.LogWarning("{Error} Its columns changed: decoding {Batches} again from Kafka with them", error.Message, string.Join(", ", outcome.Batches));
        SeekBack(outcome.Batches);
    }

    /// <summary>Drops the batches (and everything after them in their partitions) and seeks their partitions back to
    /// the first dropped offset: consumed again when the partition next consumes.</summary>
    private void SeekBack(List<PartitionBatch> failed)
    {
        foreach (var batch in failed)
        {
            var (partition, from) = (batch.Partition, batch.FirstOffset);
            var released = _batches.IsReleased(partition);
            _batches.Complete(batch);
            _batches.Drop(partition, release: false);
            if (!released && _source!.IsAssigned(partition)) _source.Seek(partition, from);
        }
    }

    /// <summary>The route's table refused rows for good: its partitions wait (<see cref="PauseReasons.TargetFailed"/>, also
    /// those assigned later, see OnAssigned) from their last committed offsets, shown in status and metrics, until an operator resumes
    /// them; the other routes go on.</summary>
    private void FailRoute(Route route, string error, List<PartitionBatch> failed)
    {
        route.Error = error;
        _logger.LogError("Route {Route} into {Table} stopped: {Error} Its partitions wait until resumed (ingest resume --reason target-failed)",
            route.Name, route.Target.Table, error);
        SeekBack(failed);
        foreach (var partition in _source!.Assigned.Where(p => route.Takes(p.Topic)).ToList())
        {
            if (_batches.Drop(partition, release: false) is { } first) _source.Seek(partition, first);
            _source.Add(PartitionSelector.Of(partition), PauseReasons.TargetFailed, rule: false);
        }
        Publish();
    }

    /// <summary>Bounded memory: above MaxInFlightBytes held for ClickHouse, every partition waits until half has drained.</summary>
    private void ApplyBackpressure()
    {
        var held = _batches.HeldBytes;
        if (!_backpressure && held > _options.Batching.MaxInFlightBytes)
        {
            _backpressure = true;
            _source!.SetEverywhere(PauseReasons.Backpressure, on: true);
            _metrics.BackpressurePaused();
            _logger.LogInformation("Pausing consumption: {Bytes:N0} bytes await ClickHouse", held);
        }
        else if (_backpressure && held <= _options.Batching.MaxInFlightBytes / 2)
        {
            _backpressure = false;
            _source!.SetEverywhere(PauseReasons.Backpressure, on: false);
            _logger.LogInformation("Resuming consumption");
        }
    }

    /// <summary>Seals the open batches of the partitions <paramref name="which"/> selects and waits until every batch of
    /// them is acknowledged and committed, with their committed checkpoints written.</summary>
    private void FlushAndWait(Func<TopicPartition, bool> which)
    {
        _batches.SealWhere(b => which(b.Partition));
        while (!_batches.IsIdle(which))
        {
            DrainOutcomes();
            Dispatch();
            Commit();
            if (!_batches.IsIdle(which)) Thread.Sleep(2);
        }
        Commit();
        // Before letting partitions go, their ranges are marked committed, so the next owner does not replay them.
        foreach (var route in _routes) route.Checkpoints?.WriteCommitted(wait: true, _maxAgeMs, _stopping);
    }

    /// <summary>The route of a topic: by name, else the first route whose pattern matches (remembered).</summary>
    private Route RouteOf(string topic)
    {
        if (_routeOf.TryGetValue(topic, out var route)) return route;
        route = _routes.FirstOrDefault(r => r.Takes(topic)) ?? throw new InvalidOperationException($"No route takes topic {topic}");
        _routeOf[topic] = route;
        return route;
    }

    private void SetState(PipelineState state)
    {
        _state = state;
        Publish();
    }

    /// <summary>Swaps in a new snapshot for other threads (every <see cref="StatusInterval"/>, and at once after a change
    /// they should see).</summary>
    private void Publish()
    {
        _lastStatus = Environment.TickCount64;
        // While consuming, the lifecycle state is Waiting; the snapshot says Running once partitions are assigned.
        var state = _state == PipelineState.Waiting && _source?.Assigned.Count > 0 ? PipelineState.Running : _state;
        _status = new PipelineStatus(_options.Region, GroupId, state, _fault, DateTimeOffset.UtcNow,
            [.. _routes.Select(r => new RouteStatus(r.Name, r.Topics, r.Target.Table, r.Target.Status.Name, r.Error))],
            _source is null ? [] : [.. _source.Assigned.OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition.Value).Select(PartitionStatusOf)],
            [.. _routes.Select(r => r.Target.Status)],
            _source is null ? [] : [.. _source.Rules.Select(r => new PauseRule(r.Selector, r.Reason.Name()))]);
    }

    private PartitionStatus PartitionStatusOf(TopicPartition p)
    {
        var route = RouteOf(p.Topic);
        var committed = _source!.Committed(p);
        var high = _source.HighWatermark(p);
        var (batches, rows, bytes) = _batches.Held(p);
        var (owner, epoch, holding, ownerNext, crossRegionLag) = OwnershipStatusOf(route, p, high);
        return new PartitionStatus(p.Topic, p.Partition.Value, route.Name, route.Target.Table, _source.Position(p), committed, high,
            high is { } h && committed is { } c ? Math.Max(0, h - c) : null, _source.Reasons(p).Names(), batches, rows, bytes,
            owner, epoch, holding, ownerNext, crossRegionLag);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _abort.Cancel();
        // An INSERT still running reads its batches' pooled buffers: they are freed only once it has finished.
        var timeout = _options.ClickHouse.RequestTimeout * 3 + TimeSpan.FromSeconds(10);
        if (_inserts.WaitAll(timeout))
        {
            foreach (var batch in _batches.All()) batch.Rows.Dispose();
        }
        else
        {
            _logger.LogError("INSERTs still ran {Timeout} after stopping; their buffers are left to the garbage collector", timeout);
        }
        foreach (var route in _routes)
        {
            WaitQuietly(route.Checkpoints?.Outstanding);
            WaitQuietly(route.Schema?.Outstanding);
            WaitQuietly(route.Ownership?.Outstanding);
            route.Dispose();
        }
        _rangeReader?.Dispose();
        _source?.Dispose();
        _abort.Dispose();
    }

    private static void WaitQuietly(Task? task)
    {
        try
        {
            task?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Reported where it was awaited; here only its end matters.
        }
    }
}

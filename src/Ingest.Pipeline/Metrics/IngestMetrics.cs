using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Ingest.Pipeline.Control;

namespace Ingest.Pipeline.Metrics;

/// <summary>What the pipeline records, on System.Diagnostics.Metrics (meter <see cref="MeterName"/>); how it is exported is
/// the host's business (the worker bridges it to Prometheus). Labels are tags; callers pass counts per batch, and recording
/// allocates nothing (tag values are strings the caller already holds). Instrument names follow OpenTelemetry's
/// conventions (dot-separated, unit kept apart: https://opentelemetry.io/docs/specs/semconv/general/naming/), so an
/// exporter derives e.g. <c>ingest_insert_duration_seconds</c> from <c>ingest.insert.duration</c> and unit <c>s</c>.
/// Gauges of partitions, pauses and in-flight data are read from the latest <see cref="PipelineStatus"/> when collected.
/// The totals (summed over labels) are for tests.</summary>
public sealed class IngestMetrics : IDisposable
{
    public const string MeterName = "Ingest";

    /// <summary>An INSERT takes milliseconds (500 rows into 18.16 on loopback: 40 ms, measured) up to the 60 s request
    /// timeout with retries; OpenTelemetry's default buckets (0–10000) assume milliseconds.</summary>
    private static readonly double[] InsertDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private static readonly string[] PauseLabels = [.. Enum.GetValues<PauseReasons>().Where(r => r != PauseReasons.None).Select(r => r.Name())];

    private readonly bool _ownsMeter;
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _rowsInserted;
    private readonly Counter<long> _inserts;
    private readonly Histogram<double> _insertDuration;
    private readonly Counter<long> _insertFailures;
    private readonly Counter<long> _pauses;
    private readonly Counter<long> _schemaChanges;
    private readonly Counter<long> _offsetResets;
    private readonly Counter<long> _partitionsLost;
    private readonly Counter<long> _replays;
    private readonly Counter<long> _fenced;
    private readonly ConcurrentDictionary<string, TableState> _tables = new(StringComparer.Ordinal);
    private volatile Func<PipelineStatus>? _status;

    private long _messagesConsumed;
    private long _messagesRejected;
    private long _rowsInsertedTotal;
    private long _batchesInserted;
    private long _insertFailuresTotal;
    private long _pausesTotal;
    private long _schemaChangesTotal;
    private long _offsetResetsTotal;
    private long _partitionsLostTotal;
    private long _replaysTotal;
    private long _fencedTotal;

    /// <summary>With a factory (the host's), the meter is the factory's and is disposed with it; without one (tests,
    /// tools), this instance owns its meter.</summary>
    public IngestMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);

        _consumed = Meter.CreateCounter<long>("ingest.messages.consumed", "{message}", "Kafka messages taken from the consumer.");
        _rejected = Meter.CreateCounter<long>("ingest.messages.rejected", "{message}", "Messages that were not valid input and were skipped.");
        _rowsInserted = Meter.CreateCounter<long>("ingest.rows.inserted", "{row}", "Rows ClickHouse acknowledged.");
        _inserts = Meter.CreateCounter<long>("ingest.batches.inserted", "{insert}",
            "INSERTs ClickHouse acknowledged (one INSERT carries the sealed batches of several partitions).");
        _insertDuration = Meter.CreateHistogram("ingest.insert.duration", "s",
            "Time from the first attempt of an INSERT to its acknowledgement, retries included.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = InsertDurationBuckets });
        _insertFailures = Meter.CreateCounter<long>("ingest.insert.failures", "{attempt}",
            "ClickHouse requests (INSERTs, checkpoint writes, queries) that failed; retryable ones are retried. code: the ClickHouse error code, or network / timeout.");
        _pauses = Meter.CreateCounter<long>("ingest.backpressure.pauses", "{pause}",
            "Times consumption paused because too many bytes awaited ClickHouse.");
        _schemaChanges = Meter.CreateCounter<long>("ingest.schema.changes", "{change}",
            "Times the target table's columns were found changed and taken up.");
        _offsetResets = Meter.CreateCounter<long>("ingest.kafka.offset_resets", "{reset}",
            "Partitions whose position was reset after an error (messages skipped, e.g. deleted by retention).");
        _partitionsLost = Meter.CreateCounter<long>("ingest.kafka.partitions_lost", "{partition}",
            "Partitions taken away without a clean revoke (session expired); their unsent batches were dropped.");
        _replays = Meter.CreateCounter<long>("ingest.checkpoint.replays", "{group}",
            "Pending groups (offsets checkpointed but not known stored) replayed after a restart or rebalance.");

        _fenced = Meter.CreateCounter<long>("ingest.ownership.fenced", "{partition}",
            "Partitions this worker stopped writing at once because another region took them over (a newer ownership epoch).");
        Meter.CreateObservableGauge("ingest.cross_region.lag", ObserveCrossRegionLag, "{message}",
            "Two-subcluster targets: messages after the owning region's checkpoint as replicated to this region (high watermark - owner's next offset); what a takeover would replay.");
        Meter.CreateObservableGauge("ingest.ownership.epoch", ObserveOwnership, null,
            "Two-subcluster targets: each assigned partition's ownership epoch, labelled with its owning region.");
        Meter.CreateObservableGauge("ingest.insert.quorum", ObserveQuorum, null,
            "Two-subcluster targets: the insert_quorum in use (2; 0 while the other region's replica is not active).");
        Meter.CreateObservableGauge("ingest.last_insert.timestamp", ObserveLastInserts, "s", "Unix time of the last acknowledged INSERT into the table.");
        Meter.CreateObservableGauge("ingest.exactly_once", ObserveExactlyOnce, null,
            "1 when the table deduplicates replays (exactly-once), 0 when delivery into it is at-least-once.");
        Meter.CreateObservableGauge("ingest.kafka.consumer.lag", ObserveLag, "{message}",
            "Messages in the partition after the last offset ClickHouse acknowledged and the checkpoint holds (high watermark - committed).");
        Meter.CreateObservableGauge("ingest.kafka.partitions.paused", ObservePaused, "{partition}",
            "Assigned partitions held by each pause reason (a partition with several reasons counts under each).");
        Meter.CreateObservableGauge("ingest.in_flight.bytes", ObserveInFlightBytes, "By",
            "Message bytes in batches ClickHouse has not acknowledged yet (backpressure pauses above MaxInFlightBytes).");
        Meter.CreateObservableGauge("ingest.in_flight.rows", ObserveInFlightRows, "{row}", "Rows in batches ClickHouse has not acknowledged yet.");
        Meter.CreateObservableGauge("ingest.routes.failed", ObserveFailedRoutes, "{route}",
            "Routes paused because their table refused rows for a reason retrying cannot fix.");
    }

    public Meter Meter { get; }

    public long MessagesConsumed => Interlocked.Read(ref _messagesConsumed);

    public long MessagesRejected => Interlocked.Read(ref _messagesRejected);

    public long RowsInserted => Interlocked.Read(ref _rowsInsertedTotal);

    public long BatchesInserted => Interlocked.Read(ref _batchesInserted);

    public long InsertFailures => Interlocked.Read(ref _insertFailuresTotal);

    public long Pauses => Interlocked.Read(ref _pausesTotal);

    public long SchemaChanges => Interlocked.Read(ref _schemaChangesTotal);

    public long OffsetResets => Interlocked.Read(ref _offsetResetsTotal);

    public long PartitionsLostTotal => Interlocked.Read(ref _partitionsLostTotal);

    public long Replays => Interlocked.Read(ref _replaysTotal);

    public long FencedTotal => Interlocked.Read(ref _fencedTotal);

    /// <summary>-1 while no table's guarantee is known, 0 if any known table is at-least-once, 1 if all known tables are
    /// exactly-once.</summary>
    public long ExactlyOnce
    {
        get
        {
            var result = -1;
            foreach (var (_, state) in _tables)
            {
                var value = Volatile.Read(ref state.ExactlyOnce);
                if (value == 0) return 0;
                if (value == 1) result = 1;
            }
            return result;
        }
    }

    public void Consumed(string topic, long messages)
    {
        _consumed.Add(messages, new KeyValuePair<string, object?>("topic", topic));
        Interlocked.Add(ref _messagesConsumed, messages);
    }

    public void Rejected(string topic, long messages)
    {
        _rejected.Add(messages, new KeyValuePair<string, object?>("topic", topic));
        Interlocked.Add(ref _messagesRejected, messages);
    }

    /// <summary>One INSERT acknowledged: its rows, and how long it took from the first attempt.</summary>
    public void Inserted(string table, long rows, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("table", table);
        _rowsInserted.Add(rows, tag);
        _inserts.Add(1, tag);
        _insertDuration.Record(elapsed.TotalSeconds, tag);
        Volatile.Write(ref Table(table).LastInsertUnixMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Interlocked.Add(ref _rowsInsertedTotal, rows);
        Interlocked.Increment(ref _batchesInserted);
    }

    /// <summary>A request to the table's ClickHouse failed. <paramref name="code"/>: the ClickHouse error code as text, or
    /// "network" / "timeout" when no answer came (<see cref="ClickHouse.Http.ClickHouseErrors.MetricCode"/>).</summary>
    public void InsertFailed(string table, string code)
    {
        _insertFailures.Add(1, new KeyValuePair<string, object?>("table", table), new KeyValuePair<string, object?>("code", code));
        Interlocked.Increment(ref _insertFailuresTotal);
    }

    public void BackpressurePaused()
    {
        _pauses.Add(1);
        Interlocked.Increment(ref _pausesTotal);
    }

    public void SchemaChanged(string table)
    {
        _schemaChanges.Add(1, new KeyValuePair<string, object?>("table", table));
        Interlocked.Increment(ref _schemaChangesTotal);
    }

    public void OffsetReset(string topic)
    {
        _offsetResets.Add(1, new KeyValuePair<string, object?>("topic", topic));
        Interlocked.Increment(ref _offsetResetsTotal);
    }

    public void PartitionsLost(int count)
    {
        _partitionsLost.Add(count);
        Interlocked.Add(ref _partitionsLostTotal, count);
    }

    public void Replayed(string table)
    {
        _replays.Add(1, new KeyValuePair<string, object?>("table", table));
        Interlocked.Increment(ref _replaysTotal);
    }

    public void Fenced(string table)
    {
        _fenced.Add(1, new KeyValuePair<string, object?>("table", table));
        Interlocked.Increment(ref _fencedTotal);
    }

    /// <summary>The delivery guarantee found for the table at start (logged there; exported as <c>ingest.exactly_once</c>).</summary>
    public void SetExactlyOnce(string table, bool exactlyOnce) => Volatile.Write(ref Table(table).ExactlyOnce, exactlyOnce ? 1 : 0);

    /// <summary>Backs the gauges of partitions (lag, pauses), in-flight data and failed routes with <paramref name="status"/>,
    /// called when they are collected (it should return the latest published snapshot: cheap, no locks).</summary>
    public void ObserveStatus(Func<PipelineStatus> status) => _status = status;

    private TableState Table(string table) => _tables.GetOrAdd(table, static _ => new TableState());

    private IEnumerable<Measurement<double>> ObserveLastInserts()
    {
        foreach (var (table, state) in _tables)
        {
            var ms = Volatile.Read(ref state.LastInsertUnixMs);
            if (ms > 0) yield return new Measurement<double>(ms / 1000.0, new KeyValuePair<string, object?>("table", table));
        }
    }

    private IEnumerable<Measurement<int>> ObserveExactlyOnce()
    {
        foreach (var (table, state) in _tables)
        {
            var value = Volatile.Read(ref state.ExactlyOnce);
            if (value >= 0) yield return new Measurement<int>(value, new KeyValuePair<string, object?>("table", table));
        }
    }

    private IEnumerable<Measurement<long>> ObserveLag()
    {
        if (_status?.Invoke() is not { } status) yield break;
        foreach (var p in status.Partitions)
        {
            if (p.Lag is { } lag)
                yield return new Measurement<long>(lag, new("topic", p.Topic), new("partition", p.Partition), new("table", p.Table));
        }
    }

    private IEnumerable<Measurement<long>> ObserveCrossRegionLag()
    {
        if (_status?.Invoke() is not { } status) yield break;
        foreach (var p in status.Partitions)
        {
            if (p.CrossRegionLag is { } lag)
                yield return new Measurement<long>(lag, new("topic", p.Topic), new("partition", p.Partition), new("table", p.Table), new("owner", p.Owner));
        }
    }

    private IEnumerable<Measurement<long>> ObserveOwnership()
    {
        if (_status?.Invoke() is not { } status) yield break;
        foreach (var p in status.Partitions)
        {
            if (p.Epoch is { } epoch)
                yield return new Measurement<long>(epoch, new("topic", p.Topic), new("partition", p.Partition), new("table", p.Table), new("owner", p.Owner));
        }
    }

    private IEnumerable<Measurement<int>> ObserveQuorum()
    {
        if (_status?.Invoke() is not { } status) yield break;
        foreach (var t in status.Targets)
        {
            if (t.Quorum is { } quorum) yield return new Measurement<int>(quorum, new KeyValuePair<string, object?>("table", t.Name));
        }
    }

    /// <summary>Every reason is reported, with 0 when it holds nothing, so a lifted pause reads 0 rather than vanishing.
    /// Labelled by the names the admin API uses (<see cref="PauseReasonNames.Name"/>: "not-owned").</summary>
    private IEnumerable<Measurement<int>> ObservePaused()
    {
        if (_status?.Invoke() is not { } status) yield break;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var label in PauseLabels) counts[label] = 0;
        foreach (var p in status.Partitions)
        {
            foreach (var reason in p.PausedBy) counts[reason] = counts.GetValueOrDefault(reason) + 1;
        }
        foreach (var (reason, count) in counts)
            yield return new Measurement<int>(count, new KeyValuePair<string, object?>("reason", reason));
    }

    private IEnumerable<Measurement<long>> ObserveInFlightBytes() => SumPerTable(p => p.InFlightBytes);

    private IEnumerable<Measurement<long>> ObserveInFlightRows() => SumPerTable(p => p.InFlightRows);

    private IEnumerable<Measurement<long>> SumPerTable(Func<PartitionStatus, long> value)
    {
        if (_status?.Invoke() is not { } status) yield break;
        foreach (var table in status.Partitions.GroupBy(p => p.Table, StringComparer.Ordinal))
            yield return new Measurement<long>(table.Sum(value), new KeyValuePair<string, object?>("table", table.Key));
    }

    private IEnumerable<Measurement<int>> ObserveFailedRoutes()
    {
        if (_status?.Invoke() is not { } status) yield break;
        yield return new Measurement<int>(status.Routes.Count(r => r.Error is not null));
    }

    public void Dispose()
    {
        if (_ownsMeter) Meter.Dispose();
    }

    private sealed class TableState
    {
        public long LastInsertUnixMs;

        /// <summary>-1 unknown, 0 at-least-once, 1 exactly-once.</summary>
        public int ExactlyOnce = -1;
    }
}

using System.Diagnostics.Metrics;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Metrics;

namespace Ingest.Pipeline.Tests.Metrics;

public sealed class IngestMetricsTests
{
    [Fact]
    public void Counters_carry_their_labels_as_tags_and_the_totals_sum_over_them()
    {
        using var metrics = new IngestMetrics();
        using var recorder = new Recorder(metrics);

        metrics.Consumed("events", 10);
        metrics.Consumed("clicks", 5);
        metrics.Rejected("events", 2);
        metrics.InsertFailed("db.t", "242");
        metrics.InsertFailed("db.t", "network");
        metrics.SchemaChanged("db.t");
        metrics.OffsetReset("events");
        metrics.PartitionsLost(3);
        metrics.Replayed("db.t");
        metrics.BackpressurePaused();

        Assert.Equal([(10, "topic=events"), (5, "topic=clicks")], recorder.Values("ingest.messages.consumed"));
        Assert.Equal([(2, "topic=events")], recorder.Values("ingest.messages.rejected"));
        Assert.Equal([(1, "code=242,table=db.t"), (1, "code=network,table=db.t")], recorder.Values("ingest.insert.failures"));
        Assert.Equal([(1, "table=db.t")], recorder.Values("ingest.schema.changes"));
        Assert.Equal([(1, "topic=events")], recorder.Values("ingest.kafka.offset_resets"));
        Assert.Equal([(3, "")], recorder.Values("ingest.kafka.partitions_lost"));
        Assert.Equal([(1, "table=db.t")], recorder.Values("ingest.checkpoint.replays"));
        Assert.Equal([(1, "")], recorder.Values("ingest.backpressure.pauses"));

        Assert.Equal(15, metrics.MessagesConsumed);
        Assert.Equal(2, metrics.MessagesRejected);
        Assert.Equal(2, metrics.InsertFailures);
        Assert.Equal(1, metrics.SchemaChanges);
        Assert.Equal(1, metrics.OffsetResets);
        Assert.Equal(3, metrics.PartitionsLostTotal);
        Assert.Equal(1, metrics.Replays);
        Assert.Equal(1, metrics.Pauses);
    }

    [Fact]
    public void An_insert_counts_rows_and_one_insert_records_its_latency_in_seconds_and_its_time_per_table()
    {
        using var metrics = new IngestMetrics();
        using var recorder = new Recorder(metrics);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        metrics.Inserted("db.a", 1000, TimeSpan.FromMilliseconds(250));
        metrics.Inserted("db.b", 7, TimeSpan.FromSeconds(2));

        Assert.Equal([(1000, "table=db.a"), (7, "table=db.b")], recorder.Values("ingest.rows.inserted"));
        Assert.Equal([(1, "table=db.a"), (1, "table=db.b")], recorder.Values("ingest.batches.inserted"));
        Assert.Equal([(0.25, "table=db.a"), (2, "table=db.b")], recorder.Values("ingest.insert.duration"));
        Assert.Equal(1007, metrics.RowsInserted);
        Assert.Equal(2, metrics.BatchesInserted);

        var histogram = Assert.IsType<Histogram<double>>(recorder.Instrument("ingest.insert.duration"));
        Assert.Equal("s", histogram.Unit);
        Assert.Contains(0.25, histogram.Advice!.HistogramBucketBoundaries!);

        var lastInserts = recorder.Observe("ingest.last_insert.timestamp");
        Assert.Equal(["table=db.a", "table=db.b"], lastInserts.Select(m => m.Tags).Order(StringComparer.Ordinal));
        Assert.All(lastInserts, m => Assert.InRange(m.Value, before, before + 60));
    }

    [Fact]
    public void Exactly_once_is_unknown_until_a_table_reports_and_at_least_once_if_any_table_is()
    {
        using var metrics = new IngestMetrics();
        using var recorder = new Recorder(metrics);
        Assert.Equal(-1, metrics.ExactlyOnce);
        Assert.Empty(recorder.Observe("ingest.exactly_once"));

        metrics.Inserted("db.b", 1, TimeSpan.Zero); // a table seen, its guarantee not known yet
        Assert.Equal(-1, metrics.ExactlyOnce);
        metrics.SetExactlyOnce("db.a", true);
        Assert.Equal(1, metrics.ExactlyOnce);
        metrics.SetExactlyOnce("db.b", false);
        Assert.Equal(0, metrics.ExactlyOnce);

        Assert.Equal([(1, "table=db.a"), (0, "table=db.b")], recorder.Observe("ingest.exactly_once").OrderBy(m => m.Tags, StringComparer.Ordinal).Select(m => (m.Value, m.Tags)));
    }

    [Fact]
    public void Gauges_read_the_latest_status_snapshot_when_collected()
    {
        using var metrics = new IngestMetrics();
        using var recorder = new Recorder(metrics);
        Assert.Empty(recorder.Observe("ingest.kafka.consumer.lag"));

        var status = PipelineStatus.Starting("a", "ingest.a") with
        {
            State = PipelineState.Running,
            Routes = [new RouteStatus("r1", ["events"], "db.t", "a", null), new RouteStatus("r2", ["clicks"], "db.c", "a", "table dropped")],
            Partitions =
            [
                Partition("events", 0, "db.t", lag: 120, bytes: 1000, rows: 10),
                Partition("events", 1, "db.t", lag: null, bytes: 500, rows: 5, "backpressure"),
                Partition("clicks", 0, "db.c", lag: 7, bytes: 0, rows: 0, "target-failed", "operator"),
                Partition("clicks", 1, "db.c", lag: 0, bytes: 0, rows: 0, "target-failed"),
            ],
        };
        metrics.ObserveStatus(() => status);

        Assert.Equal(
            [(120, "partition=0,table=db.t,topic=events"), (7, "partition=0,table=db.c,topic=clicks"), (0, "partition=1,table=db.c,topic=clicks")],
            recorder.Observe("ingest.kafka.consumer.lag").Select(m => (m.Value, m.Tags)));
        var paused = recorder.Observe("ingest.kafka.partitions.paused").ToDictionary(m => m.Tags, m => m.Value);
        Assert.Equal(1, paused["reason=backpressure"]);
        Assert.Equal(2, paused["reason=target-failed"]);
        Assert.Equal(1, paused["reason=operator"]);
        Assert.Equal(0, paused["reason=not-owned"]);
        Assert.Equal(0, paused["reason=target-read-only"]);
        Assert.Equal(6, paused.Count);
        Assert.Equal([(1500, "table=db.t"), (0, "table=db.c")], recorder.Observe("ingest.in_flight.bytes").Select(m => (m.Value, m.Tags)));
        Assert.Equal([(15, "table=db.t"), (0, "table=db.c")], recorder.Observe("ingest.in_flight.rows").Select(m => (m.Value, m.Tags)));
        Assert.Equal([(1, "")], recorder.Observe("ingest.routes.failed").Select(m => (m.Value, m.Tags)));

        // A newer snapshot is what the next collection sees.
        status = status with { Partitions = [Partition("events", 0, "db.t", lag: 3, bytes: 0, rows: 0)] };
        Assert.Equal([(3, "partition=0,table=db.t,topic=events")], recorder.Observe("ingest.kafka.consumer.lag").Select(m => (m.Value, m.Tags)));
    }

    [Fact]
    public void Recording_allocates_nothing_while_exported()
    {
        using var metrics = new IngestMetrics();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        listener.Start();
        var topic = "events";
        var table = "db.t";
        var code = "242";

        // The fewest bytes over three passes after a warm-up (see Native/AllocationTests).
        var allocated = long.MaxValue;
        for (var pass = 0; pass < 4; pass++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                metrics.Consumed(topic, 100);
                metrics.Rejected(topic, 1);
                metrics.Inserted(table, 100, TimeSpan.FromMilliseconds(3));
                metrics.InsertFailed(table, code);
            }
            if (pass > 0) allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(400_000, metrics.MessagesConsumed);
    }

    [Fact]
    public void With_a_factory_the_meter_is_the_factorys()
    {
        using var factory = new TestMeterFactory();
        var metrics = new IngestMetrics(factory);
        Assert.Same(factory.Created.Single(), metrics.Meter);
        Assert.Equal(IngestMetrics.MeterName, metrics.Meter.Name);
    }

    private static PartitionStatus Partition(string topic, int partition, string table, long? lag, long bytes, long rows, params string[] pausedBy) =>
        new(topic, partition, "r", table, Position: 0, Committed: 0, HighWatermark: lag, Lag: lag, pausedBy, InFlightBatches: 0, rows, bytes);

    /// <summary>Listens to one <see cref="IngestMetrics"/> instance's meter only (other tests' instances share the name).</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Name, double Value, string Tags)> _measurements = [];
        private readonly Dictionary<string, Instrument> _instruments = [];

        public Recorder(IngestMetrics metrics)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter != metrics.Meter) return;
                _instruments[instrument.Name] = instrument;
                listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        public Instrument Instrument(string name) => _instruments[name];

        public List<(double Value, string Tags)> Values(string name) =>
            [.. _measurements.Where(m => m.Name == name).Select(m => (m.Value, m.Tags))];

        /// <summary>Collects the observable instruments (as an exporter does at a scrape) and returns <paramref name="name"/>'s.</summary>
        public List<(double Value, string Tags)> Observe(string name)
        {
            _measurements.Clear();
            _listener.RecordObservableInstruments();
            return Values(name);
        }

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var text = string.Join(",", tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
            _measurements.Add((instrument.Name, value, text));
        }

        public void Dispose() => _listener.Dispose();
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Created { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            Created.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in Created) m.Dispose();
        }
    }
}

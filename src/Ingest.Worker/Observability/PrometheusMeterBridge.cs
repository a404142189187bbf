using System.Buffers;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Ingest.Pipeline.Metrics;
using Prometheus;

namespace Ingest.Worker.Observability;

/// <summary>Exports one <see cref="IngestMetrics"/> meter as prometheus-net's own counters, gauges and histograms.
/// Not prometheus-net's meter adapter: measured on .NET 10 it exported counters as gauges without <c>_total</c>, prefixed
/// the meter name a second time, published values on a ~10 s interval, and once had not seen the meter 25 s after start
/// (shared/notes/local-stack-facts.md). Here a <see cref="MeterListener"/> applies each counter and histogram measurement
/// as it is recorded, and observable instruments are read in the registry's before-collect callback, so every scrape is
/// current. Names follow OpenTelemetry's Prometheus rules
/// (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#metric-metadata-1): dots become
/// underscores, the unit's word is appended (s → _seconds, By → _bytes; {annotations} add none), counters end in _total.
/// An instrument's label names are its first measurement's tag keys (IngestMetrics records each instrument with one tag
/// set); a later measurement lacking one exports it empty.</summary>
internal sealed class PrometheusMeterBridge : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly MetricFactory _factory;
    private readonly List<Family> _observable = [];
    private readonly Lock _collecting = new();

    public PrometheusMeterBridge(IngestMetrics metrics, CollectorRegistry registry)
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);
        // Exemplars would attach whatever Activity is current (an HTTP call's) to pipeline counters.
        _factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != metrics.Meter) return;
            var family = new Family(instrument, _factory);
            if (family.IsObservable)
            {
                lock (_collecting) _observable.Add(family);
            }
            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
        registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>Reads every observable instrument; series not reported this time (a revoked partition's lag) are removed.
    /// Serialized: concurrent scrapes would interleave the seen-sets.</summary>
    private void Collect()
    {
        lock (_collecting)
        {
            foreach (var family in _observable) family.BeginCollect();
            _listener.RecordObservableInstruments();
            foreach (var family in _observable) family.EndCollect();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>The Prometheus name of <paramref name="instrument"/>: <c>ingest.insert.duration</c> in s →
    /// <c>ingest_insert_duration_seconds</c>; counter <c>ingest.messages.consumed</c> → <c>ingest_messages_consumed_total</c>.</summary>
    internal static string PrometheusName(Instrument instrument, bool counter)
    {
        var name = Sanitize(instrument.Name);
        if (UnitWord(instrument.Unit) is { } unit && !name.EndsWith("_" + unit, StringComparison.Ordinal)) name += "_" + unit;
        if (counter && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        return name;
    }

    private static string? UnitWord(string? unit) => unit switch
    {
        null or "" or "1" => null,
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ when unit.StartsWith('{') => null,
        _ => Sanitize(unit),
    };

    /// <summary>Metric and label names allow [a-zA-Z0-9_] (https://prometheus.io/docs/concepts/data_model/); anything
    /// else becomes '_', runs of '_' collapse.</summary>
    private static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9');
            if (ok) sb.Append(c);
            else if (sb.Length > 0 && sb[^1] != '_') sb.Append('_');
        }
        return sb.ToString();
    }

    private enum Kind
    {
        /// <summary>Counter: each measurement is an increment.</summary>
        Counter,

        /// <summary>ObservableCounter: each measurement is the running total.</summary>
        CumulativeCounter,

        /// <summary>UpDownCounter: increments that may be negative.</summary>
        UpDown,

        /// <summary>ObservableGauge, ObservableUpDownCounter: each measurement is the current value.</summary>
        Gauge,
        Histogram,
    }

    /// <summary>One instrument's metric family, created at its first measurement (when its label names are known).</summary>
    private sealed class Family(Instrument instrument, MetricFactory factory)
    {
        private readonly Kind _kind = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => Kind.Counter,
            ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => Kind.CumulativeCounter,
            UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => Kind.UpDown,
            Histogram<long> or Histogram<int> or Histogram<double> => Kind.Histogram,
            _ => Kind.Gauge,
        };

        private readonly Lock _creating = new();
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        /// <summary>The tag keys, ordered by their label names.</summary>
        private string[] _labelKeys = [];
        private volatile Collector? _collector;

        public bool IsObservable => instrument.IsObservable;

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var collector = _collector ?? Create(tags);
            var keys = _labelKeys;
            var buffer = ArrayPool<string>.Shared.Rent(keys.Length);
            try
            {
                var values = buffer.AsSpan(0, keys.Length);
                for (var i = 0; i < keys.Length; i++) values[i] = LabelValue(keys[i], tags);
                if (IsObservable) _seen.Add(string.Join('\u001f', values.ToArray()));
                switch (_kind)
                {
                    case Kind.Counter:
                        ((Counter)collector).WithLabels(values).Inc(value);
                        break;
                    case Kind.CumulativeCounter:
                        ((Counter)collector).WithLabels(values).IncTo(value);
                        break;
                    case Kind.UpDown:
                        ((Gauge)collector).WithLabels(values).Inc(value);
                        break;
                    case Kind.Gauge:
                        ((Gauge)collector).WithLabels(values).Set(value);
                        break;
                    case Kind.Histogram:
                        ((Histogram)collector).WithLabels(values).Observe(value);
                        break;
                }
            }
            finally
            {
                ArrayPool<string>.Shared.Return(buffer, clearArray: true);
            }
        }

        public void BeginCollect() => _seen.Clear();

        public void EndCollect()
        {
            switch (_collector)
            {
                case Gauge gauge:
                    RemoveUnseen(gauge);
                    break;
                case Counter counter:
                    RemoveUnseen(counter);
                    break;
            }
        }

        private void RemoveUnseen<TChild>(Collector<TChild> collector)
            where TChild : ChildBase
        {
            foreach (var values in collector.GetAllLabelValues().ToList())
            {
                if (!_seen.Contains(string.Join('\u001f', values))) collector.RemoveLabelled(values);
            }
        }

        private Collector Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_creating)
            {
                if (_collector is { } existing) return existing;
                var keys = new string[tags.Length];
                var names = new string[tags.Length];
                for (var i = 0; i < tags.Length; i++) (keys[i], names[i]) = (tags[i].Key, Sanitize(tags[i].Key));
                Array.Sort(names, keys, StringComparer.Ordinal);
                _labelKeys = keys;
                var help = string.IsNullOrEmpty(instrument.Description) ? instrument.Name : instrument.Description;
                Collector created = _kind switch
                {
                    Kind.Counter or Kind.CumulativeCounter => factory.CreateCounter(PrometheusName(instrument, counter: true), help, names),
                    Kind.Histogram => factory.CreateHistogram(PrometheusName(instrument, counter: false), help, names,
                        new HistogramConfiguration { Buckets = Buckets(instrument) }),
                    _ => factory.CreateGauge(PrometheusName(instrument, counter: false), help, names),
                };
                _collector = created;
                return created;
            }
        }

        private static string LabelValue(string key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == key)
                    return tag.Value switch
                    {
                        null => "",
                        string s => s,
                        bool b => b ? "true" : "false",
                        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                        var other => other.ToString() ?? "",
                    };
            }
            return "";
        }

        /// <summary>The instrument's advised boundaries; prometheus-net's defaults (5 ms to 10 s) without advice.</summary>
        private static double[]? Buckets(Instrument instrument) => instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        };
    }
}

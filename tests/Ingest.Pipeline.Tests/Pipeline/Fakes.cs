using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Tests.Pipeline;

/// <summary>A broker's logs: what was produced to each partition, by offset.</summary>
internal sealed class FakeKafka
{
    private readonly Dictionary<TopicPartition, List<byte[]>> _logs = [];

    public void Produce(string topic, int partition, string value)
    {
        lock (_logs)
        {
            var tp = new TopicPartition(topic, partition);
            if (!_logs.TryGetValue(tp, out var log)) _logs[tp] = log = [];
            log.Add(Encoding.UTF8.GetBytes(value));
        }
    }

    /// <summary>Produces {"seq":n} for n in <paramref name="from"/>..; returns the next seq.</summary>
    public int ProduceSeq(string topic, int partition, int from, int count)
    {
        for (var i = 0; i < count; i++) Produce(topic, partition, $$"""{"seq":{{from + i}}}""");
        return from + count;
    }

    public byte[]? At(TopicPartition tp, long offset)
    {
        lock (_logs) return _logs.TryGetValue(tp, out var log) && offset < log.Count ? log[(int)offset] : null;
    }

    public long End(TopicPartition tp)
    {
        lock (_logs) return _logs.TryGetValue(tp, out var log) ? log.Count : 0;
    }
}

/// <summary>The group consumer over <see cref="FakeKafka"/>: rebalances are queued by the test and run inside
/// <see cref="Consume"/> on the pipeline thread, as librdkafka runs its callbacks.</summary>
internal sealed class FakeConsumer(FakeKafka kafka) : IPartitionConsumer
{
    private readonly ConcurrentQueue<Action> _events = new();
    private readonly Dictionary<TopicPartition, long> _positions = [];
    private readonly ConcurrentDictionary<TopicPartition, bool> _paused = new();
    private readonly ConcurrentDictionary<TopicPartition, long> _committed = new();
    private IRebalanceListener? _listener;
    private byte[] _value = [];
    private int _next;

    public IReadOnlyList<string> Topics { get; private set; } = [];

    public bool Closed { get; private set; }

    public ReadOnlySpan<byte> Value => _value;

    /// <summary>Kafka's committed offset per partition (what the group would resume from without checkpoints).</summary>
    public IReadOnlyDictionary<TopicPartition, long> Committed => _committed;

    public void Assign(params TopicPartition[] partitions) => _events.Enqueue(() =>
    {
        foreach (var start in _listener!.OnAssigned(partitions))
            _positions[start.TopicPartition] = start.Offset == Offset.Unset ? _committed.GetValueOrDefault(start.TopicPartition) : start.Offset.Value;
        // librdkafka assigns partitions consuming, whatever they were before.
        foreach (var p in partitions) _paused.TryRemove(p, out _);
    });

    public void Revoke(params TopicPartition[] partitions) => _events.Enqueue(() =>
    {
        _listener!.OnRevoked(partitions);
        foreach (var p in partitions) _positions.Remove(p);
    });

    public void Lose(params TopicPartition[] partitions) => _events.Enqueue(() =>
    {
        _listener!.OnLost(partitions);
        foreach (var p in partitions) _positions.Remove(p);
    });

    public bool IsPaused(TopicPartition p) => _paused.ContainsKey(p);

    public void Subscribe(IReadOnlyList<string> topics, IRebalanceListener listener)
    {
        Topics = topics;
        _listener = listener;
    }

    public ConsumedMessage? Consume(int timeoutMs)
    {
        while (_events.TryDequeue(out var e)) e();
        var parts = _positions.Keys.ToList();
        for (var i = 0; i < parts.Count; i++)
        {
            var p = parts[(_next + i) % parts.Count];
            if (_paused.ContainsKey(p) || kafka.At(p, _positions[p]) is not { } value) continue;
            _next = (_next + i + 1) % Math.Max(1, parts.Count);
            _value = value;
            var offset = _positions[p]++;
            return new ConsumedMessage(p, offset, 0);
        }
        Thread.Sleep(Math.Min(timeoutMs, 2));
        return null;
    }

    public void Pause(IReadOnlyList<TopicPartition> partitions)
    {
        foreach (var p in partitions)
        {
            if (!_positions.ContainsKey(p)) throw new KafkaException(ErrorCode.Local_UnknownPartition);
            _paused[p] = true;
        }
    }

    public void Resume(IReadOnlyList<TopicPartition> partitions)
    {
        foreach (var p in partitions) _paused.TryRemove(p, out _);
    }

    public void Seek(TopicPartitionOffset position) => _positions[position.TopicPartition] = position.Offset.Value;

    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets)
    {
        foreach (var o in offsets)
        {
            if (_committed.TryGetValue(o.TopicPartition, out var before) && before > o.Offset.Value)
                throw new InvalidOperationException($"{o.TopicPartition} committed backwards: {before} then {o.Offset.Value}");
            _committed[o.TopicPartition] = o.Offset.Value;
        }
    }

    public long? HighWatermark(TopicPartition partition) => kafka.End(partition);

    public void Close()
    {
        Closed = true;
        if (_positions.Count > 0) _listener!.OnRevoked([.. _positions.Keys]);
        _positions.Clear();
    }

    public void Dispose()
    {
    }
}

/// <summary>One INSERT as the target saw it: the rows' seq values per member, in order.</summary>
internal sealed record FakeInsert(IReadOnlyList<(TopicPartition Partition, long First, long Last)> Members, IReadOnlyList<long> Seqs,
    IReadOnlyDictionary<string, string>? Settings);

/// <summary>A table: records every INSERT (reading the batches' bytes as ClickHouse would), can refuse or hold them.</summary>
internal sealed class FakeTarget(string table = "db.events") : IInsertTarget
{
    private readonly List<FakeInsert> _inserts = [];

    public string Table => table;

    /// <summary>Decides per INSERT: null to store it, or the exception to throw (after reading the body).</summary>
    public Func<IReadOnlyList<PartitionBatch>, Exception?>? Refuse { get; set; }

    /// <summary>When set, INSERTs (those <see cref="HoldIf"/> picks, or all) wait for it before reading their batches.</summary>
    public SemaphoreSlim? Gate { get; set; }

    public Func<IReadOnlyList<PartitionBatch>, bool>? HoldIf { get; set; }

    /// <summary>What the target reports, as a read-only replica would.</summary>
    public bool ReadOnly { get; set; }

    public TargetStatus Status => new(Table, [new EndpointStatus("http://fake/", true, null, null)], ReadOnly);

    public IReadOnlyList<FakeInsert> Inserts
    {
        get
        {
            lock (_inserts) return [.. _inserts];
        }
    }

    /// <summary>Every seq stored, over all INSERTs.</summary>
    public List<long> Seqs => [.. Inserts.SelectMany(i => i.Seqs)];

    public async Task InsertAsync(IReadOnlyList<PartitionBatch> batches, IReadOnlyDictionary<string, string>? settings, CancellationToken stopping)
    {
        if (Gate is not null && (HoldIf is null || HoldIf(batches))) await Gate.WaitAsync(CancellationToken.None);
        // Read the bytes as the HTTP body would: a buffer returned to the pool too early shows here.
        var body = new ArrayBufferWriter<byte>();
        foreach (var b in batches) b.Rows.WriteTo(body);
        var seqs = Encoding.UTF8.GetString(body.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => long.Parse(line.Split(':')[1].TrimEnd('}'), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        if (Refuse?.Invoke(batches) is { } error) throw error;
        lock (_inserts) _inserts.Add(new FakeInsert([.. batches.Select(b => (b.Partition, b.FirstOffset, b.LastOffset))], seqs, settings));
    }

    public Task<TableSchema> LoadSchemaAsync(CancellationToken ct) => throw new NotSupportedException("JSONEachRow routes read no schema");

    public void Dispose()
    {
    }
}

/// <summary>The checkpoint table in memory: newest version wins per partition.</summary>
internal sealed class FakeCheckpointStore : ICheckpointStore
{
    private readonly List<CheckpointRow> _rows = [];

    public string Table => "db.ingest_checkpoints";

    public List<CheckpointRow> Rows
    {
        get
        {
            lock (_rows) return [.. _rows];
        }
    }

    public void Add(CheckpointRow row)
    {
        lock (_rows) _rows.Add(row);
    }

    public Task<Dictionary<TopicPartition, Checkpoint>> LoadAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct) =>
        Task.FromResult(Rows.Where(r => partitions.Contains(r.Partition)).GroupBy(r => r.Partition)
            .ToDictionary(g => g.Key, g => g.MaxBy(r => r.Version) is var r ? new Checkpoint(r.FirstOffset, r.LastOffset, r.State, r.Version, r.Members) : default));

    public Task WriteAsync(IReadOnlyList<CheckpointRow> rows, CancellationToken stopping)
    {
        lock (_rows) _rows.AddRange(rows);
        return Task.CompletedTask;
    }

    /// <summary>The newest row of the partition.</summary>
    public CheckpointRow? Newest(TopicPartition p) => Rows.Where(r => r.Partition == p).OrderBy(r => r.Version).LastOrDefault() is { Version: > 0 } r ? r : null;
}

/// <summary>Reads ranges back from <see cref="FakeKafka"/>.</summary>
internal sealed class FakeRangeReader(FakeKafka kafka) : IRangeReader
{
    public int Reads { get; private set; }

    public string? Read(PartitionBatch batch, long first, long last, TimeSpan timeout, CancellationToken ct)
    {
        Reads++;
        for (var o = first; o <= last; o++)
        {
            if (kafka.At(batch.Partition, o) is not { } value) return $"offsets from {o} are missing";
            batch.Add(o, value);
        }
        return null;
    }

    public void Dispose()
    {
    }
}

using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Kafka;

/// <summary><see cref="IPartitionConsumer"/> on librdkafka. Confluent.Kafka runs the group (subscribe, rebalance
/// callbacks, pause, seek, commit); messages are taken straight from librdkafka's consumer queue, up to
/// <see cref="BatchSize"/> per rd_kafka_consume_batch_queue call, and each value is read in place in librdkafka's
/// buffer until the next message is asked for. Confluent.Kafka's Consume builds a ConsumeResult, a Message, a
/// TopicPartition and the topic's string for every message, and copies the value: that was most of the consume
/// thread's time per message; a batch takes the queue's lock and clock once per call instead of once per message.
/// Messages held from a batch are never handed out stale: a rebalance callback served inside the batch call notes
/// how far the batch had got, and what it had taken before of the partitions that changed hands is dropped
/// (librdkafka's own barrier purges them only when it reaches the barrier in the same call); a pause or seek drops
/// the held messages of its partitions (a pause seeks back to the first, since librdkafka counts the whole batch as
/// consumed). If the handle cannot be reached (a Confluent.Kafka release that renamed it), Confluent.Kafka's Consume
/// is used, with the value copied into one reused buffer (<see cref="MessageBytes"/>).</summary>
internal sealed unsafe class KafkaConsumer : IPartitionConsumer
{
    private readonly MessageBytes _message = new();
    private readonly ConsumerConfig _config;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly bool _timestamps;
    private readonly Dictionary<(IntPtr Topic, int Partition), TopicPartition> _partitions = [];

    /// <summary>Messages per batch call: the pipeline takes up to 512 per turn; more would only be held longer.</summary>
    private const int BatchSize = 512;

    /// <summary>The last batch: [<see cref="_heldNext"/>, <see cref="_heldCount"/>) are not handed out yet.</summary>
    private Librdkafka.Message** _held = (Librdkafka.Message**)NativeMemory.Alloc(BatchSize, (nuint)sizeof(Librdkafka.Message*));
    private int _heldNext;
    private int _heldCount;
    private IntPtr _queue;

    /// <summary>Partitions assigned, revoked or lost by a callback inside the current batch call, with the number of
    /// messages the batch held when it ran: those came before it.</summary>
    private readonly Dictionary<TopicPartition, int> _rebalancedAt = [];
    private IConsumer<Ignore, int>? _consumer;
    private SafeHandle? _handle;
    private IntPtr _rk;
    private Librdkafka.Message* _current;
    private TopicPartition? _last;
    private (IntPtr Topic, int Partition) _lastKey;

    /// <summary>What a rebalance handler threw inside a poll (Confluent.Kafka keeps it for its own Consume, which this
    /// class does not call): thrown on the pipeline thread once the poll returns.</summary>
    private ExceptionDispatchInfo? _handlerError;

    public KafkaConsumer(ConsumerConfig config, ILogger logger, IngestMetrics metrics, bool timestamps)
    {
        _timestamps = timestamps;
        _config = config;
        _logger = logger;
        _metrics = metrics;
    }

    private IConsumer<Ignore, int> Consumer => _consumer ?? throw new InvalidOperationException("Subscribe first");

    public ReadOnlySpan<byte> Value => _current is null ? _message.Current : new ReadOnlySpan<byte>(_current->Payload, (int)_current->Length);

    public void Subscribe(IReadOnlyList<string> topics, IRebalanceListener listener)
    {
        _consumer = new ConsumerBuilder<Ignore, int>(_config)
            .SetValueDeserializer(_message)
            .SetPartitionsAssignedHandler((_, parts) => Guard(parts, () => listener.OnAssigned(parts)))
            .SetPartitionsRevokedHandler((_, parts) => Guard([.. parts.Select(p => p.TopicPartition)], () => listener.OnRevoked([.. parts.Select(p => p.TopicPartition)])))
            .SetPartitionsLostHandler((_, parts) => Guard([.. parts.Select(p => p.TopicPartition)], () => listener.OnLost([.. parts.Select(p => p.TopicPartition)])))
            .SetErrorHandler((_, e) => _logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => OnLog(m))
            .Build();
        _consumer.Subscribe(topics);
        _handle = Librdkafka.HandleOf(_consumer);
        if (_handle is null)
        {
            _logger.LogWarning("librdkafka's handle is not reachable in Confluent.Kafka {Version}: consuming through Confluent.Kafka's Consume (slower)", typeof(IClient).Assembly.GetName().Version);
            return;
        }
        var added = false;
        _handle.DangerousAddRef(ref added);
        _rk = _handle.DangerousGetHandle();
        _queue = Librdkafka.QueueGetConsumer(_rk);
    }

    public ConsumedMessage? Consume(int timeoutMs)
    {
        if (_rk == IntPtr.Zero)
        {
            var result = Consumer.Consume(timeoutMs);
            return result is null ? null : new ConsumedMessage(result.TopicPartition, result.Offset.Value, result.Message.Timestamp.UnixTimestampMs);
        }
        ReleaseCurrent();
        if (_heldNext == _heldCount && !TakeBatch(timeoutMs)) return null;
        var m = _held[_heldNext++];
        _current = m;
        var partition = PartitionOf(m);
        if (m->Err != 0) Fail(m, partition);
        var timestamp = _timestamps ? Librdkafka.MessageTimestamp(m, out _) : 0;
        return new ConsumedMessage(partition, m->Offset, timestamp);
    }

    /// <summary>The next batch; false when it brought nothing to hand out.</summary>
    private bool TakeBatch(int timeoutMs)
    {
        if (_queue == IntPtr.Zero) throw new ObjectDisposedException(nameof(KafkaConsumer), "the consumer is closed");
        // Cleared, so that a callback inside the call can count what the batch holds (librdkafka fills it in order).
        NativeMemory.Clear(_held, BatchSize * (nuint)sizeof(Librdkafka.Message*));
        // The batch call waits until the batch is full or the time is up: it only takes what is there, and an empty
        // queue is waited on for its first message alone.
        var n = Librdkafka.ConsumeBatchQueue(_queue, 0, _held, BatchSize);
        if (n <= 0 && timeoutMs > 0 && _handlerError is null && _rebalancedAt.Count == 0 && Librdkafka.ConsumerPoll(_rk, timeoutMs) is var m && m is not null)
        {
            _held[0] = m;
            n = 1;
        }
        (_heldNext, _heldCount) = (0, (int)Math.Max(0, n));
        if (_handlerError is { } error)
        {
            _handlerError = null;
            _rebalancedAt.Clear();
            DropHeld((_, _) => true);
            error.Throw();
        }
        if (_rebalancedAt.Count > 0)
        {
            DropHeld((p, i) => _rebalancedAt.TryGetValue(p, out var at) && i < at);
            _rebalancedAt.Clear();
        }
        return _heldCount > 0;
    }

    /// <summary>Drops the held messages <paramref name="which"/> selects (by partition and place in the batch); with
    /// <paramref name="firstDropped"/>, notes each partition's first offset dropped.</summary>
    private void DropHeld(Func<TopicPartition, int, bool> which, List<TopicPartitionOffset>? firstDropped = null)
    {
        var kept = _heldNext;
        for (var i = _heldNext; i < _heldCount; i++)
        {
            var m = _held[i];
            var partition = PartitionOf(m);
            if (!which(partition, i))
            {
                _held[kept++] = m;
                continue;
            }
            if (firstDropped is not null && m->Err == 0 && !firstDropped.Exists(f => f.TopicPartition == partition))
                firstDropped.Add(new TopicPartitionOffset(partition, new Offset(m->Offset)));
            Librdkafka.MessageDestroy(m);
        }
        _heldCount = kept;
    }

    /// <summary>The TopicPartition of a message, one instance per partition (nothing allocated per message, and its
    /// topic string is the same instance in every lookup); messages come in runs of one partition, so the last one
    /// answers most of them.</summary>
    private TopicPartition PartitionOf(Librdkafka.Message* m)
    {
        var key = (m->Topic, m->Partition);
        if (_last is not null && key == _lastKey) return _last;
        if (!_partitions.TryGetValue(key, out var partition))
        {
            var topic = m->Topic == IntPtr.Zero ? "" : Marshal.PtrToStringUTF8(Librdkafka.TopicName(m->Topic)) ?? "";
            _partitions[key] = partition = new TopicPartition(topic, new Partition(m->Partition));
        }
        (_last, _lastKey) = (partition, key);
        return partition;
    }

    /// <summary>An error delivered as a message, as Confluent.Kafka's Consume reports it: a ConsumeException.</summary>
    private void Fail(Librdkafka.Message* m, TopicPartition partition)
    {
        var error = new Error((ErrorCode)m->Err);
        var offset = new TopicPartitionOffset(partition, new Offset(m->Offset));
        ReleaseCurrent();
        throw new ConsumeException(new ConsumeResult<byte[], byte[]> { TopicPartitionOffset = offset }, error);
    }

    private void ReleaseCurrent()
    {
        if (_current is null) return;
        Librdkafka.MessageDestroy(_current);
        _current = null;
    }

    private void Guard(IEnumerable<TopicPartition> partitions, Action handler) => Guard(partitions, () =>
    {
        handler();
        return true;
    });

    /// <summary>Runs a rebalance handler inside a poll: its exception is kept for the pipeline thread, and the
    /// partitions it changed are noted with how many messages the batch under way held.</summary>
    private T Guard<T>(IEnumerable<TopicPartition> partitions, Func<T> handler)
    {
        if (_rk != IntPtr.Zero && _held is not null)
        {
            var at = 0;
            while (at < BatchSize && _held[at] is not null) at++;
            foreach (var p in partitions) _rebalancedAt[p] = at;
        }
        try
        {
            return handler();
        }
        catch (Exception e)
        {
            _handlerError = ExceptionDispatchInfo.Capture(e);
            throw;
        }
    }

    public void Pause(IReadOnlyList<TopicPartition> partitions)
    {
        var seekBack = new List<TopicPartitionOffset>();
        if (_heldNext < _heldCount) DropHeld((p, _) => partitions.Contains(p), seekBack);
        Consumer.Pause(partitions);
        // librdkafka counted the whole batch as consumed: resumed, it would go on after the messages just dropped.
        foreach (var position in seekBack) Consumer.Seek(position);
    }

    public void Resume(IReadOnlyList<TopicPartition> partitions) => Consumer.Resume(partitions);

    public void Seek(TopicPartitionOffset position)
    {
        if (_heldNext < _heldCount) DropHeld((p, _) => p == position.TopicPartition);
        Consumer.Seek(position);
    }

    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets) => Consumer.Commit(offsets);

    public long? HighWatermark(TopicPartition partition)
    {
        var high = Consumer.GetWatermarkOffsets(partition).High;
        return high == Offset.Unset ? null : high.Value;
    }

    public void Close()
    {
        ReleaseCurrent();
        ReleaseQueue();
        _consumer?.Close();
    }

    /// <summary>The held messages and the queue reference go before the consumer: librdkafka waits for them.</summary>
    private void ReleaseQueue()
    {
        DropHeld((_, _) => true);
        if (_queue == IntPtr.Zero) return;
        Librdkafka.QueueDestroy(_queue);
        _queue = IntPtr.Zero;
    }

    private void OnLog(LogMessage m)
    {
        // librdkafka logs an error-triggered reset (e.g. the committed offset was already deleted by retention)
        // as a warning with facility OFFSET: messages between the two positions will never be read.
        if (m.Facility == "OFFSET" && m.Level <= SyslogLevel.Warning && m.Message.Contains("offset reset", StringComparison.Ordinal))
        {
            // "<topic> [<partition>]: offset reset (at ...) to ...": rdkafka_offset.c
            _metrics.OffsetReset(m.Message[..Math.Max(0, m.Message.IndexOf(" [", StringComparison.Ordinal))]);
            _logger.LogError("Kafka offset reset, messages are skipped: {Message}", m.Message);
            return;
        }
        _logger.LogDebug("librdkafka {Facility}: {Message}", m.Facility, m.Message);
    }

    public void Dispose()
    {
        ReleaseCurrent();
        ReleaseQueue();
        NativeMemory.Free(_held);
        _held = null;
        if (_rk != IntPtr.Zero)
        {
            _rk = IntPtr.Zero;
            _handle!.DangerousRelease();
        }
        _consumer?.Dispose();
        _message.Dispose();
    }
}

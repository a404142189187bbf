using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Kafka;

/// <summary><see cref="IPartitionConsumer"/> on librdkafka. Confluent.Kafka runs the group (subscribe, rebalance
/// callbacks, pause, seek, commit); messages are taken straight from librdkafka's consumer queue
/// (rd_kafka_consumer_poll) and the value is read in place in librdkafka's buffer until the next poll. Confluent.Kafka's
/// Consume builds a ConsumeResult, a Message, a TopicPartition and the topic's string for every message, and
/// copies the value: that was most of the consume thread's time per message. If the handle cannot be reached (a
/// Confluent.Kafka release that renamed it), Confluent.Kafka's Consume is used, with the value copied into one
/// reused buffer (<see cref="MessageBytes"/>).</summary>
internal sealed unsafe class KafkaConsumer : IPartitionConsumer
{
    private readonly MessageBytes _message = new();
    private readonly ConsumerConfig _config;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly bool _timestamps;
    private readonly Dictionary<(IntPtr Topic, int Partition), TopicPartition> _partitions = [];
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
            .SetPartitionsAssignedHandler((_, parts) => Guard(() => listener.OnAssigned(parts)))
            .SetPartitionsRevokedHandler((_, parts) => Guard(() => listener.OnRevoked([.. parts.Select(p => p.TopicPartition)])))
            .SetPartitionsLostHandler((_, parts) => Guard(() => listener.OnLost([.. parts.Select(p => p.TopicPartition)])))
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
    }

    public ConsumedMessage? Consume(int timeoutMs)
    {
        if (_rk == IntPtr.Zero)
        {
            var result = Consumer.Consume(timeoutMs);
            return result is null ? null : new ConsumedMessage(result.TopicPartition, result.Offset.Value, result.Message.Timestamp.UnixTimestampMs);
        }
        ReleaseCurrent();
        var m = Librdkafka.ConsumerPoll(_rk, timeoutMs);
        if (_handlerError is { } error)
        {
            _handlerError = null;
            if (m is not null) Librdkafka.MessageDestroy(m);
            error.Throw();
        }
        if (m is null) return null;
        _current = m;
        var partition = PartitionOf(m);
        if (m->Err != 0) Fail(m, partition);
        var timestamp = _timestamps ? Librdkafka.MessageTimestamp(m, out _) : 0;
        return new ConsumedMessage(partition, m->Offset, timestamp);
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

    private void Guard(Action handler) => Guard(() =>
    {
        handler();
        return true;
    });

    private T Guard<T>(Func<T> handler)
    {
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

    public void Pause(IReadOnlyList<TopicPartition> partitions) => Consumer.Pause(partitions);

    public void Resume(IReadOnlyList<TopicPartition> partitions) => Consumer.Resume(partitions);

    public void Seek(TopicPartitionOffset position) => Consumer.Seek(position);

    public void Commit(IReadOnlyList<TopicPartitionOffset> offsets) => Consumer.Commit(offsets);

    public long? HighWatermark(TopicPartition partition)
    {
        var high = Consumer.GetWatermarkOffsets(partition).High;
        return high == Offset.Unset ? null : high.Value;
    }

    public void Close()
    {
        ReleaseCurrent();
        _consumer?.Close();
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
        if (_rk != IntPtr.Zero)
        {
            _rk = IntPtr.Zero;
            _handle!.DangerousRelease();
        }
        _consumer?.Dispose();
        _message.Dispose();
    }
}

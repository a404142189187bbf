using Confluent.Kafka;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Kafka;

/// <summary><see cref="IPartitionConsumer"/> on librdkafka (Confluent.Kafka). Values are copied into one reused buffer
/// (<see cref="MessageBytes"/>) instead of being deserialized per message.</summary>
internal sealed class KafkaConsumer : IPartitionConsumer
{
    private readonly MessageBytes _message = new();
    private readonly ConsumerConfig _config;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private IConsumer<Ignore, int>? _consumer;

    public KafkaConsumer(ConsumerConfig config, ILogger logger, IngestMetrics metrics)
    {
        _config = config;
        _logger = logger;
        _metrics = metrics;
    }

    private IConsumer<Ignore, int> Consumer => _consumer ?? throw new InvalidOperationException("Subscribe first");

    public ReadOnlySpan<byte> Value => _message.Current;

    public void Subscribe(IReadOnlyList<string> topics, IRebalanceListener listener)
    {
        _consumer = new ConsumerBuilder<Ignore, int>(_config)
            .SetValueDeserializer(_message)
            .SetPartitionsAssignedHandler((_, parts) => listener.OnAssigned(parts))
            .SetPartitionsRevokedHandler((_, parts) => listener.OnRevoked([.. parts.Select(p => p.TopicPartition)]))
            .SetPartitionsLostHandler((_, parts) => listener.OnLost([.. parts.Select(p => p.TopicPartition)]))
            .SetErrorHandler((_, e) => _logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => OnLog(m))
            .Build();
        _consumer.Subscribe(topics);
    }

    public ConsumedMessage? Consume(int timeoutMs)
    {
        var result = Consumer.Consume(timeoutMs);
        return result is null ? null : new ConsumedMessage(result.TopicPartition, result.Offset.Value, result.Message.Timestamp.UnixTimestampMs);
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

    public void Close() => _consumer?.Close();

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
        _consumer?.Dispose();
        _message.Dispose();
    }
}

using System.Net.Http.Headers;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Kafka;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>One region's consume → batch → insert → commit loop. <see cref="Run"/> blocks its (dedicated) thread:
/// librdkafka's rebalance callbacks run inside Consume on that thread, which is where batches are flushed
/// before partitions are released. Kafka offsets are committed only after ClickHouse acknowledged the rows.</summary>
public sealed class IngestPipeline : IDisposable
{
    private static readonly Dictionary<string, string> InsertSettings = new()
    {
        // Producers add fields over time; the table decides what is kept.
        ["input_format_skip_unknown_fields"] = "1",
    };

    private readonly IngestOptions _options;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly ClickHouseHttpClient[] _clickHouse;
    private readonly JsonRowsBatch _batch = new();
    private readonly long _maxAgeMs;
    private int _endpoint;
    private CancellationToken _stopping;

    public IngestPipeline(IngestOptions options, ILogger logger, IngestMetrics metrics)
    {
        options.Validate();
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _maxAgeMs = (long)options.Batching.MaxAge.TotalMilliseconds;
        _clickHouse = options.ClickHouse.Endpoints
            .Select(e => new ClickHouseHttpClient(new Uri(e), options.ClickHouse.User, options.ClickHouse.Password, options.ClickHouse.RequestTimeout))
            .ToArray();
    }

    public string GroupId => ConsumerSettings.GroupId(_options);

    /// <summary>True once the consumer has partitions assigned (readiness).</summary>
    public bool IsAssigned { get; private set; }

    /// <summary>Consumes until <paramref name="stopping"/> fires, then flushes what it holds and leaves the group.</summary>
    public void Run(CancellationToken stopping)
    {
        _stopping = stopping;
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(ConsumerSettings.Build(_options))
            .SetPartitionsAssignedHandler((_, parts) =>
            {
                IsAssigned = parts.Count > 0;
                _logger.LogInformation("Assigned {Partitions}", string.Join(", ", parts));
            })
            .SetPartitionsRevokedHandler((c, parts) =>
            {
                _logger.LogInformation("Revoking {Partitions}: flushing first", string.Join(", ", parts));
                Flush(c);
                IsAssigned = false;
            })
            .SetErrorHandler((_, e) => _logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka: {Reason} ({Code})", e.Reason, e.Code))
            .SetLogHandler((_, m) => OnKafkaLog(m))
            .Build();

        consumer.Subscribe(_options.Kafka.Topics);
        _logger.LogInformation("Consuming {Topics} as group {Group} into {Table}", string.Join(",", _options.Kafka.Topics), GroupId, _options.ClickHouse.Table);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var result = consumer.Consume(50);
                if (result is not null)
                {
                    _metrics.MessageConsumed();
                    var error = _batch.Add(result.TopicPartition, result.Offset.Value, result.Message.Value);
                    if (error is not null)
                    {
                        _metrics.MessageRejected();
                        _logger.LogWarning("Skipping {Topic}/{Partition}@{Offset}: {Error}", result.Topic, result.Partition.Value, result.Offset.Value, error);
                    }
                }
                if (ShouldFlush()) Flush(consumer);
            }
            Flush(consumer);
        }
        finally
        {
            // Close leaves the group at once (the revoke handler flushes), instead of waiting for session timeout.
            consumer.Close();
        }
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

    private bool ShouldFlush()
    {
        if (!_batch.HasOffsets) return false;
        return _batch.Rows >= _options.Batching.MaxRows
            || _batch.Bytes >= _options.Batching.MaxBytes
            || Environment.TickCount64 - _batch.StartedAtTicks >= _maxAgeMs;
    }

    /// <summary>Inserts the batch (retrying until ClickHouse acknowledges it), then commits its offsets.
    /// Nothing is committed that ClickHouse has not acknowledged: a crash in between replays the batch
    /// (at-least-once here; #4 makes the replay exactly-once).</summary>
    private void Flush(IConsumer<Ignore, byte[]> consumer)
    {
        if (!_batch.HasOffsets) return;
        if (_batch.Rows > 0) InsertWithRetry();
        try
        {
            consumer.Commit(_batch.CommitOffsets);
        }
        catch (KafkaException e)
        {
            // The rows are in ClickHouse; a lost commit only means a replay after a rebalance.
            _logger.LogWarning("Offset commit failed ({Reason}); rows are stored, a rebalance may replay them", e.Error.Reason);
        }
        _batch.Clear();
    }

    private void InsertWithRetry()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            var client = _clickHouse[_endpoint];
            try
            {
                var content = new ReadOnlyMemoryContent(_batch.Body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                client.InsertAsync(_options.ClickHouse.Table, "JSONEachRow", content, InsertSettings, CancellationToken.None)
                    .GetAwaiter().GetResult();
                _metrics.BatchInserted(_batch.Rows);
                return;
            }
            catch (Exception e) when (IsRetryable(e))
            {
                _metrics.InsertFailed();
                _endpoint = (_endpoint + 1) % _clickHouse.Length;
                _logger.LogWarning("Insert of {Rows} rows failed (attempt {Attempt}), retrying in {Delay} ms on {Endpoint}: {Error}",
                    _batch.Rows, attempt, (int)delay.TotalMilliseconds, _clickHouse[_endpoint].Endpoint, e.Message);
                if (_stopping.IsCancellationRequested && attempt >= 3)
                    throw new OperationCanceledException("Stopping with an unacknowledged batch; its offsets stay uncommitted and it will be replayed.", e);
                Thread.Sleep(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
            catch (ClickHouseServerException e)
            {
                _metrics.InsertFailed();
                throw new InvalidOperationException(
                    $"ClickHouse refused a batch of {_batch.Rows} rows for {_options.ClickHouse.Table} (not retryable); " +
                    $"offsets stay uncommitted: {string.Join(", ", _batch.CommitOffsets)}. {e.Message}", e);
            }
        }
    }

    private static bool IsRetryable(Exception e) => e switch
    {
        ClickHouseServerException ch => ch.IsRetryable,
        HttpRequestException or TaskCanceledException or IOException => true,
        _ => false,
    };

    public void Dispose()
    {
        _batch.Dispose();
        foreach (var c in _clickHouse) c.Dispose();
    }
}

using System.Globalization;
using System.Text;

namespace Ingest.Pipeline.Metrics;

/// <summary>Process-wide counters, rendered in the Prometheus text exposition format
/// (https://prometheus.io/docs/instrumenting/exposition_formats/).</summary>
public sealed class IngestMetrics
{
    private long _messagesConsumed;
    private long _messagesRejected;
    private long _rowsInserted;
    private long _batchesInserted;
    private long _insertFailures;
    private long _lastInsertUnixMs;
    private long _offsetResets;
    private long _schemaChanges;
    private long _replays;
    private long _partitionsLost;
    private long _exactlyOnce = -1;
    private long _pauses;

    public long MessagesConsumed => Interlocked.Read(ref _messagesConsumed);

    public long MessagesRejected => Interlocked.Read(ref _messagesRejected);

    public long RowsInserted => Interlocked.Read(ref _rowsInserted);

    public long BatchesInserted => Interlocked.Read(ref _batchesInserted);

    public long InsertFailures => Interlocked.Read(ref _insertFailures);

    public void MessageConsumed() => Interlocked.Increment(ref _messagesConsumed);

    public void MessageRejected() => Interlocked.Increment(ref _messagesRejected);

    public void BatchInserted(int rows)
    {
        Interlocked.Add(ref _rowsInserted, rows);
        Interlocked.Increment(ref _batchesInserted);
        Interlocked.Exchange(ref _lastInsertUnixMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    public void InsertFailed() => Interlocked.Increment(ref _insertFailures);

    public long OffsetResets => Interlocked.Read(ref _offsetResets);

    public void OffsetReset() => Interlocked.Increment(ref _offsetResets);

    public long Replays => Interlocked.Read(ref _replays);

    public long PartitionsLostTotal => Interlocked.Read(ref _partitionsLost);

    public void PartitionsLost(int count) => Interlocked.Add(ref _partitionsLost, count);

    public void Replayed() => Interlocked.Increment(ref _replays);

    /// <summary>1 when the target deduplicates replays (exactly-once), 0 when it does not, -1 before it is known.</summary>
    public long ExactlyOnce
    {
        get => Interlocked.Read(ref _exactlyOnce);
        set => Interlocked.Exchange(ref _exactlyOnce, value);
    }

    public long SchemaChanges => Interlocked.Read(ref _schemaChanges);

    public void SchemaChanged() => Interlocked.Increment(ref _schemaChanges);

    public long Pauses => Interlocked.Read(ref _pauses);

    public void Paused() => Interlocked.Increment(ref _pauses);

    // Interim recording API (labels arrive with the Meter-based version).
    public void Consumed(string topic, long messages) => Interlocked.Add(ref _messagesConsumed, messages);

    public void Rejected(string topic, long messages) => Interlocked.Add(ref _messagesRejected, messages);

    public void Inserted(string table, long rows, TimeSpan elapsed) => BatchInserted((int)rows);

    public void InsertFailed(string table, string code) => InsertFailed();

    public void BackpressurePaused() => Paused();

    public void SchemaChanged(string table) => SchemaChanged();

    public void Replayed(string table) => Replayed();

    public void SetExactlyOnce(string table, bool exactlyOnce) => ExactlyOnce = exactlyOnce ? 1 : 0;

    public void ObserveStatus(Func<Control.PipelineStatus> status)
    {
    }

    public string ToPrometheusText()
    {
        var sb = new StringBuilder();
        Counter(sb, "ingest_messages_consumed_total", "Kafka messages taken from the consumer.", MessagesConsumed);
        Counter(sb, "ingest_messages_rejected_total", "Messages that were not valid input and were skipped.", MessagesRejected);
        Counter(sb, "ingest_rows_inserted_total", "Rows ClickHouse acknowledged.", RowsInserted);
        Counter(sb, "ingest_batches_inserted_total", "INSERTs ClickHouse acknowledged.", BatchesInserted);
        Counter(sb, "ingest_insert_failures_total", "INSERT attempts that failed (each is retried).", InsertFailures);
        Counter(sb, "ingest_backpressure_pauses_total", "Times consumption paused because too many bytes awaited ClickHouse.", Pauses);
        Counter(sb, "ingest_schema_changes_total", "Times the target table's columns were found changed and taken up.", SchemaChanges);
        Counter(sb, "ingest_kafka_offset_resets_total", "Partitions whose position was reset after an error (messages skipped, e.g. deleted by retention).", OffsetResets);
        Counter(sb, "ingest_kafka_partitions_lost_total", "Partitions taken away without a clean revoke (session expired); their unsent batches were dropped.", PartitionsLostTotal);
        Counter(sb, "ingest_checkpoint_replays_total", "Pending ranges (offsets checkpointed but not known stored) replayed after a restart or rebalance.", Replays);
        sb.Append("# HELP ingest_exactly_once 1 when the target table deduplicates replays (exactly-once), 0 when at-least-once, -1 not yet known.\n")
          .Append("# TYPE ingest_exactly_once gauge\n")
          .Append("ingest_exactly_once ").Append(ExactlyOnce.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("# HELP ingest_last_insert_timestamp_seconds Unix time of the last acknowledged INSERT.\n")
          .Append("# TYPE ingest_last_insert_timestamp_seconds gauge\n")
          .Append("ingest_last_insert_timestamp_seconds ")
          .Append((Interlocked.Read(ref _lastInsertUnixMs) / 1000.0).ToString(CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
          .Append("# TYPE ").Append(name).Append(" counter\n")
          .Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
}

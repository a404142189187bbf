using Confluent.Kafka;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline.Batching;

/// <summary>Where a batch is in its life: taking messages, waiting for an INSERT, or in one.</summary>
internal enum BatchState : byte
{
    Open,
    Sealed,
    InFlight,
}

/// <summary>One Kafka partition's batch: its rows and the offset range they came from. A batch never mixes
/// partitions, so its range replays identically after a crash.</summary>
internal sealed class PartitionBatch(TopicPartition partition, IRowBuffer rows)
{
    public BatchState State { get; set; }

    public TopicPartition Partition { get; } = partition;

    public IRowBuffer Rows { get; } = rows;

    /// <summary>First offset taken, or -1 while nothing was.</summary>
    public long FirstOffset { get; private set; } = -1;

    public long LastOffset { get; private set; } = -1;

    /// <summary>Messages taken but not made rows (bad input, logged and counted).</summary>
    public int Rejected { get; private set; }

    public long StartedAtTicks { get; private set; }

    /// <summary>When it was sealed (Environment.TickCount64).</summary>
    public long SealedAtTicks { get; set; }

    public bool IsEmpty => FirstOffset < 0;

    /// <summary>Where the group resumes once this batch is stored: the offset after its last message.</summary>
    public TopicPartitionOffset CommitOffset => new(Partition, new Offset(LastOffset + 1));

    /// <summary>Takes the message at <paramref name="offset"/>; returns null, or why it is not a row (its offset
    /// still counts as consumed, so one bad message cannot block its partition).</summary>
    public string? Add(long offset, ReadOnlySpan<byte> message) => Add(offset, 0, message);

    public string? Add(long offset, long timestampMs, ReadOnlySpan<byte> message)
    {
        if (FirstOffset < 0)
        {
            FirstOffset = offset;
            StartedAtTicks = Environment.TickCount64;
        }
        LastOffset = offset;
        var error = Rows.Add(message, new MessageSource(Partition.Topic, Partition.Partition.Value, offset, timestampMs));
        if (error is not null) Rejected++;
        return error;
    }

    public void Reset()
    {
        State = BatchState.Open;
        Rows.Clear();
        FirstOffset = -1;
        LastOffset = -1;
        Rejected = 0;
    }

    public override string ToString() => $"{Partition.Topic}[{Partition.Partition.Value}] offsets {FirstOffset}..{LastOffset} ({Rows.Rows} rows)";
}

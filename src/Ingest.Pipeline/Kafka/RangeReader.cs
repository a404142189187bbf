using Confluent.Kafka;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Kafka;

/// <summary>Reads exact offset ranges of any partitions with a consumer of its own that is not a group member
/// (assign, never subscribe or commit): a pending group of batches is rebuilt from Kafka to be inserted again,
/// including members whose partitions another worker owns now.</summary>
internal sealed class RangeReader : IRangeReader
{
    private readonly MessageBytes _message = new();
    private readonly IConsumer<Ignore, int> _consumer;

    public RangeReader(IngestOptions options, bool timestamps)
    {
        var config = ConsumerSettings.Build(options, timestamps);
        config.ClientId += "-replay";
        // Never a group member (assign only): it must not take the worker's static identity.
        config.GroupInstanceId = null;
        _consumer = new ConsumerBuilder<Ignore, int>(config).SetValueDeserializer(_message).Build();
    }

    /// <summary>Adds the messages at offsets <paramref name="first"/>..<paramref name="last"/> of
    /// <paramref name="batch"/>'s partition to it. Returns null, or what differs from the range asked for (messages
    /// deleted by retention or compaction: the batch is then not the one first sent).</summary>
    public string? Read(PartitionBatch batch, long first, long last, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        _consumer.Assign(new TopicPartitionOffset(batch.Partition, new Offset(first)));
        try
        {
            string? difference = null;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new TimeoutException($"Reading {batch.Partition.Topic}[{batch.Partition.Partition.Value}] offsets {first}..{last} from Kafka to replay them took longer than {timeout.TotalSeconds:0} s");
                var result = _consumer.Consume(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
                if (result is null) continue;
                var offset = result.Offset.Value;
                if (batch.IsEmpty && offset != first) difference = $"the range starts at {offset}, not {first}";
                if (offset > last)
                {
                    difference ??= $"offsets up to {last} are missing";
                    return difference;
                }
                batch.Add(offset, result.Message.Timestamp.UnixTimestampMs, _message.Current);
                if (offset == last) return difference;
            }
        }
        finally
        {
            _consumer.Unassign();
        }
    }

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
        _message.Dispose();
    }
}

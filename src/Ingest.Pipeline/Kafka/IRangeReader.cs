using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Kafka;

/// <summary>Reads exact offset ranges back from Kafka (a pending group is rebuilt to be inserted again).</summary>
internal interface IRangeReader : IDisposable
{
    /// <summary>Adds the messages at offsets <paramref name="first"/>..<paramref name="last"/> of
    /// <paramref name="batch"/>'s partition to it. Returns null, or what differs from the range asked for.</summary>
    string? Read(PartitionBatch batch, long first, long last, TimeSpan timeout, CancellationToken ct);
}

using System.Buffers;
using Confluent.Kafka;

namespace Ingest.Pipeline.Kafka;

/// <summary>Takes each message value out of librdkafka's memory into one reused pooled buffer, without allocating.
/// Why not decode right here: Confluent.Kafka calls a deserializer without the message's partition, and a
/// partition's rows must go into that partition's batch; the copy (~10 ns for 100 bytes) is small next to the
/// JSON decode that follows on the same thread once Consume has returned the partition.</summary>
internal sealed class MessageBytes : IDeserializer<int>, IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _length;

    /// <summary>The value of the message Consume returned last (valid until the next Consume).</summary>
    public ReadOnlySpan<byte> Current => _buffer.AsSpan(0, _length);

    public int Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context)
    {
        if (data.Length > _buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(data.Length);
        }
        data.CopyTo(_buffer);
        _length = data.Length;
        return _length;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

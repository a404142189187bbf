using System.Buffers;
using System.Text.Json;
using Confluent.Kafka;

namespace Ingest.Pipeline.Batching;

/// <summary>Messages that are each one JSON object, laid end to end with '\n' as a JSONEachRow body, plus the
/// highest offset taken per partition. First path (#2): ClickHouse parses the JSON; #3 replaces it with
/// columnar Native batches.</summary>
internal sealed class JsonRowsBatch : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private readonly Dictionary<TopicPartition, long> _lastOffsets = [];

    public int Rows { get; private set; }

    public int Bytes { get; private set; }

    public long StartedAtTicks { get; private set; }

    public ReadOnlyMemory<byte> Body => _buffer.AsMemory(0, Bytes);

    /// <summary>Partitions in this batch and the offset to commit for each (last offset + 1).</summary>
    public IEnumerable<TopicPartitionOffset> CommitOffsets =>
        _lastOffsets.Select(kv => new TopicPartitionOffset(kv.Key, new Offset(kv.Value + 1)));

    /// <summary>Adds a message's row. Returns null, or why the message is not one JSON object (then it is not added,
    /// but its offset still counts as consumed so a bad message cannot block its partition).</summary>
    public string? Add(TopicPartition partition, long offset, ReadOnlySpan<byte> json)
    {
        if (Rows == 0) StartedAtTicks = Environment.TickCount64;
        _lastOffsets[partition] = offset;
        var error = ValidateObject(json);
        if (error is not null) return error;

        var need = Bytes + json.Length + 1;
        if (need > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, _buffer.Length * 2));
            _buffer.AsSpan(0, Bytes).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        json.CopyTo(_buffer.AsSpan(Bytes));
        _buffer[Bytes + json.Length] = (byte)'\n';
        Bytes = need;
        Rows++;
        return null;
    }

    public bool HasOffsets => _lastOffsets.Count > 0;

    public void Clear()
    {
        Rows = 0;
        Bytes = 0;
        _lastOffsets.Clear();
    }

    private static string? ValidateObject(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return "message is not a JSON object";
            reader.Skip();
            // Anything after the object but whitespace makes the reader throw ("invalid after a single JSON value").
            reader.Read();
            return null;
        }
        catch (JsonException e)
        {
            return $"malformed JSON: {e.Message}";
        }
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline.Batching;

/// <summary>Messages laid end to end, '\n'-separated, as a JSONEachRow body: ClickHouse parses the JSON. Kept for
/// tables with types the Native writer does not cover and as the baseline the Native path is measured against.</summary>
internal sealed class JsonRowsBuffer : IRowBuffer
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int _length;

    public string Format => "JSONEachRow";

    public int Rows { get; private set; }

    public long SourceBytes => _length;

    public ReadOnlyMemory<byte> Body => _buffer.AsMemory(0, _length);

    public string? Add(ReadOnlySpan<byte> message, in MessageSource source)
    {
        var error = ValidateObject(message);
        if (error is not null) return error;
        var need = _length + message.Length + 1;
        if (need > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        message.CopyTo(_buffer.AsSpan(_length));
        _buffer[_length + message.Length] = (byte)'\n';
        _length = need;
        Rows++;
        return null;
    }

    public ValueTask WriteToAsync(PipeWriter writer)
    {
        writer.Write(Body.Span);
        return ValueTask.CompletedTask;
    }

    public void WriteTo(IBufferWriter<byte> writer) => writer.Write(Body.Span);

    public void Clear()
    {
        Rows = 0;
        _length = 0;
    }

    private static string? ValidateObject(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty) return "empty message (null or zero-length value)";
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "message is not a JSON object";
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

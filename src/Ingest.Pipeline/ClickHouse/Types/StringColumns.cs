using System.Buffers;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Helpers shared by the string-like columns.</summary>
internal static class JsonString
{
    /// <summary>Appends the UTF-8 of the current token to <paramref name="destination"/> and returns the byte count:
    /// strings unescaped, numbers as their JSON text, booleans as true/false. Containers are rejected.</summary>
    public static int AppendTo(PooledBuffer destination, ref Utf8JsonReader reader, string typeName)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String or JsonTokenType.PropertyName:
                if (!reader.ValueIsEscaped && !reader.HasValueSequence)
                {
                    destination.Append(reader.ValueSpan);
                    return reader.ValueSpan.Length;
                }
                // Unescaping never makes the text longer, so the raw length is enough room.
                var bound = checked((int)(reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length));
                var written = reader.CopyString(destination.GetSpan(bound));
                destination.Advance(written);
                return written;
            case JsonTokenType.Number:
                if (!reader.HasValueSequence)
                {
                    destination.Append(reader.ValueSpan);
                    return reader.ValueSpan.Length;
                }
                var length = checked((int)reader.ValueSequence.Length);
                reader.ValueSequence.CopyTo(destination.GetSpan(length));
                destination.Advance(length);
                return length;
            case JsonTokenType.True:
                destination.Append("true"u8);
                return 4;
            case JsonTokenType.False:
                destination.Append("false"u8);
                return 5;
            default:
                throw ColumnValueException.ForToken(typeName, ref reader);
        }
    }
}

/// <summary>String: per row a VarUInt length and the bytes. Kept as one byte buffer plus end offsets.</summary>
internal sealed class StringColumn : Column
{
    private readonly PooledBuffer _bytes = new();
    private readonly PooledBuffer _ends = new();

    public override int Count => _ends.Length / sizeof(int);

    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            var start = index == 0 ? 0 : _ends.Read<int>(index - 1);
            return _bytes.Written[start.._ends.Read<int>(index)];
        }
    }

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        JsonString.AppendTo(_bytes, ref reader, "String");
        _ends.Append(_bytes.Length);
    }

    public void Append(ReadOnlySpan<byte> utf8)
    {
        _bytes.Append(utf8);
        _ends.Append(_bytes.Length);
    }

    public override void AppendDefault() => _ends.Append(_bytes.Length);

    public override void Truncate(int count)
    {
        _ends.Truncate(count * sizeof(int));
        _bytes.Truncate(count == 0 ? 0 : _ends.Read<int>(count - 1));
    }

    public override void Clear()
    {
        _bytes.Clear();
        _ends.Clear();
    }

    public override void Dispose()
    {
        _bytes.Dispose();
        _ends.Dispose();
    }

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        var count = Count;
        for (var i = 0; i < count; i++) NativeWire.WriteString(writer, this[i]);
    }
}

/// <summary>FixedString(N): exactly N bytes per row, shorter values padded with zero bytes.</summary>
internal sealed class FixedStringColumn(int length) : Column
{
    private readonly string _typeName = $"FixedString({length})";
    private readonly PooledBuffer _bytes = new();
    private readonly PooledBuffer _scratch = new();

    public override int Count => _bytes.Length / length;

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        _scratch.Clear();
        var written = JsonString.AppendTo(_scratch, ref reader, _typeName);
        if (written > length)
            throw new ColumnValueException(_typeName, _scratch.Written, $"{written} bytes is longer than {length}");
        var row = _bytes.GetSpan(length);
        _scratch.Written.CopyTo(row);
        row[written..].Clear();
        _bytes.Advance(length);
    }

    public override void AppendDefault()
    {
        _bytes.GetSpan(length).Clear();
        _bytes.Advance(length);
    }

    public override void Truncate(int count) => _bytes.Truncate(count * length);

    public override void Clear() => _bytes.Clear();

    public override void Dispose()
    {
        _bytes.Dispose();
        _scratch.Dispose();
    }

    internal override void WriteData(IBufferWriter<byte> writer) => NativeWire.WriteBytes(writer, _bytes.Written);
}

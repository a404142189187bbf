using System.Buffers;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;
using static Ingest.Pipeline.ClickHouse.Types.JsonContainer;

namespace Ingest.Pipeline.ClickHouse.Types;

internal static class JsonContainer
{
    /// <summary>Moves to the next token inside a container. A reader that runs dry there holds an incomplete value
    /// (a non-final buffer, or truncated input), which must not be stored as a shorter array.</summary>
    public static JsonTokenType Next(ref Utf8JsonReader reader)
        => reader.Read() ? reader.TokenType : throw new ColumnValueException("incomplete JSON value: the input ends inside an array or object");
}

/// <summary>Nullable(T): a UInt8 null map (1 = NULL) for all rows, then the nested column with a default in NULL rows.</summary>
internal sealed class NullableColumn(Column nested) : Column
{
    private readonly PooledBuffer _nullMap = new();

    public Column Nested => nested;

    public override int Count => _nullMap.Length;

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        // The nested column is left unchanged when it throws, and the null map is only touched after it succeeded.
        nested.AppendJson(ref reader);
        _nullMap.Append((byte)0);
    }

    public override void AppendDefault()
    {
        nested.AppendDefault();
        _nullMap.Append((byte)1);
    }

    public override void Truncate(int count)
    {
        _nullMap.Truncate(count);
        nested.Truncate(count);
    }

    public override void Clear()
    {
        _nullMap.Clear();
        nested.Clear();
    }

    public override void Dispose()
    {
        _nullMap.Dispose();
        nested.Dispose();
    }

    internal override void WritePrefix(IBufferWriter<byte> writer) => nested.WritePrefix(writer);

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        NativeWire.WriteBytes(writer, _nullMap.Written);
        nested.WriteData(writer);
    }
}

/// <summary>Array(T): UInt64 cumulative end offsets for all rows, then the nested column holding every element.</summary>
internal sealed class ArrayColumn(Column nested) : Column
{
    private readonly PooledBuffer _ends = new();

    public Column Nested => nested;

    public override int Count => _ends.Length / sizeof(ulong);

    private int NestedEnd => Count == 0 ? 0 : (int)_ends.Read<ulong>(Count - 1);

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        if (reader.TokenType != JsonTokenType.StartArray) throw ColumnValueException.ForToken("Array", ref reader);
        var start = nested.Count;
        try
        {
            while (Next(ref reader) != JsonTokenType.EndArray) nested.AppendJson(ref reader);
        }
        catch
        {
            nested.Truncate(start);
            throw;
        }
        _ends.Append((ulong)nested.Count);
    }

    public override void AppendDefault() => _ends.Append((ulong)NestedEnd);

    public override void Truncate(int count)
    {
        _ends.Truncate(count * sizeof(ulong));
        nested.Truncate(NestedEnd);
    }

    public override void Clear()
    {
        _ends.Clear();
        nested.Clear();
    }

    public override void Dispose()
    {
        _ends.Dispose();
        nested.Dispose();
    }

    internal override void WritePrefix(IBufferWriter<byte> writer) => nested.WritePrefix(writer);

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        NativeWire.WriteBytes(writer, _ends.Written);
        nested.WriteData(writer);
    }
}

/// <summary>Map(K, V): serialized as Array(Tuple(K, V)), i.e. UInt64 end offsets, then all keys, then all values
/// (confirmed against chDB 26.7). Input is a JSON object; its property names are parsed as K.</summary>
internal sealed class MapColumn(Column keys, Column values) : Column
{
    private readonly PooledBuffer _ends = new();

    public override int Count => _ends.Length / sizeof(ulong);

    private int NestedEnd => Count == 0 ? 0 : (int)_ends.Read<ulong>(Count - 1);

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        if (reader.TokenType != JsonTokenType.StartObject) throw ColumnValueException.ForToken("Map", ref reader);
        var start = keys.Count;
        try
        {
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                keys.AppendJson(ref reader);
                Next(ref reader);
                values.AppendJson(ref reader);
            }
        }
        catch
        {
            keys.Truncate(start);
            values.Truncate(start);
            throw;
        }
        _ends.Append((ulong)keys.Count);
    }

    public override void AppendDefault() => _ends.Append((ulong)NestedEnd);

    public override void Truncate(int count)
    {
        _ends.Truncate(count * sizeof(ulong));
        keys.Truncate(NestedEnd);
        values.Truncate(NestedEnd);
    }

    public override void Clear()
    {
        _ends.Clear();
        keys.Clear();
        values.Clear();
    }

    public override void Dispose()
    {
        _ends.Dispose();
        keys.Dispose();
        values.Dispose();
    }

    internal override void WritePrefix(IBufferWriter<byte> writer)
    {
        keys.WritePrefix(writer);
        values.WritePrefix(writer);
    }

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        NativeWire.WriteBytes(writer, _ends.Written);
        keys.WriteData(writer);
        values.WriteData(writer);
    }
}

/// <summary>Tuple(T1, ..., Tn): each element column in order, each holding every row. Input is a JSON array of
/// exactly n values.</summary>
internal sealed class TupleColumn(Column[] elements) : Column
{
    private int _count;

    public override int Count => _count;

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        if (reader.TokenType != JsonTokenType.StartArray) throw ColumnValueException.ForToken("Tuple", ref reader);
        var filled = 0;
        try
        {
            while (Next(ref reader) != JsonTokenType.EndArray)
            {
                if (filled == elements.Length)
                    throw new ColumnValueException($"expected Tuple of {elements.Length} elements but got more");
                elements[filled].AppendJson(ref reader);
                filled++;
            }
            if (filled != elements.Length)
                throw new ColumnValueException($"expected Tuple of {elements.Length} elements but got {filled}");
        }
        catch
        {
            for (var i = 0; i < filled; i++) elements[i].Truncate(_count);
            throw;
        }
        _count++;
    }

    public override void AppendDefault()
    {
        foreach (var e in elements) e.AppendDefault();
        _count++;
    }

    public override void Truncate(int count)
    {
        foreach (var e in elements) e.Truncate(count);
        _count = count;
    }

    public override void Clear()
    {
        foreach (var e in elements) e.Clear();
        _count = 0;
    }

    public override void Dispose()
    {
        foreach (var e in elements) e.Dispose();
    }

    internal override void WritePrefix(IBufferWriter<byte> writer)
    {
        foreach (var e in elements) e.WritePrefix(writer);
    }

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        foreach (var e in elements) e.WriteData(writer);
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>LowCardinality(String) and LowCardinality(Nullable(String)), in ClickHouse's Native LowCardinality
/// serialization (src/DataTypes/Serializations/SerializationLowCardinality.cpp), one dictionary per block:
/// <code>
/// prefix: UInt64 KeysSerializationVersion = 1 (SharedDictionariesWithAdditionalKeys)
/// data:   UInt64 IndexesSerializationType = HasAdditionalKeysBit (1 &lt;&lt; 9) | NeedUpdateDictionary (1 &lt;&lt; 10) | index width
///         (0 = UInt8, 1 = UInt16, 2 = UInt32, 3 = UInt64: the narrowest that holds the key count)
///         UInt64 number of keys, the keys as a String column,
///         UInt64 number of rows, the indexes.
/// </code>
/// Like ClickHouse's ColumnUnique the dictionary starts with the default key(s): for Nullable, key 0 is the NULL
/// slot (serialized as an empty string) and key 1 is ''; otherwise key 0 is ''. Other keys follow in order of first
/// use. ClickHouse 18.16 and chDB 26.7 both produce exactly this for fresh values (e.g. ['a','b','a',''] is keys
/// ['', 'a', 'b'], indexes [1, 2, 1, 0]). Nothing is written for zero rows, as ClickHouse does for empty columns.</summary>
internal sealed class LowCardinalityStringColumn : Column
{
    private const ulong KeysSerializationVersion = 1;
    private const ulong HasAdditionalKeysBit = 1UL << 9;
    private const ulong NeedUpdateDictionary = 1UL << 10;

    private readonly bool _nullable;
    private readonly PooledBuffer _keyBytes = new();
    private readonly PooledBuffer _keyEnds = new();
    private readonly PooledBuffer _keyHashes = new();
    private readonly PooledBuffer _indexes = new();
    private readonly PooledBuffer _scratch = new();
    private int[] _slots = [];
    private int _capacity;
    private int _keyCount;

    public LowCardinalityStringColumn(bool nullable)
    {
        _nullable = nullable;
        Reset();
    }

    public override int Count => _indexes.Length / sizeof(int);

    public int KeyCount => _keyCount;

    /// <summary>Index of '' (and of JSON null in a non-Nullable column).</summary>
    private int DefaultIndex => _nullable ? 1 : 0;

    private int FixedKeys => _nullable ? 2 : 1;

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        ReadOnlySpan<byte> text;
        if (JsonScalar.IsText(reader.TokenType) && !reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            text = reader.ValueSpan;
        }
        else
        {
            _scratch.Clear();
            JsonString.AppendTo(_scratch, ref reader, _nullable ? "LowCardinality(Nullable(String))" : "LowCardinality(String)");
            text = _scratch.Written;
        }
        _indexes.Append(GetOrAddKey(text));
    }

    public override void AppendDefault() => _indexes.Append(_nullable ? 0 : DefaultIndex);

    public override void Truncate(int count)
    {
        _indexes.Truncate(count * sizeof(int));
        // Keys are numbered in order of first use, so the keys still used are exactly 0..max(remaining index).
        var keep = FixedKeys - 1;
        for (var i = 0; i < count; i++) keep = Math.Max(keep, _indexes.Read<int>(i));
        keep++;
        if (keep == _keyCount) return;
        _keyCount = keep;
        _keyEnds.Truncate(keep * sizeof(int));
        _keyHashes.Truncate(keep * sizeof(int));
        _keyBytes.Truncate(_keyEnds.Read<int>(keep - 1));
        Rehash(_capacity);
    }

    public override void Clear()
    {
        _indexes.Clear();
        Reset();
    }

    public override void Dispose()
    {
        _keyBytes.Dispose();
        _keyEnds.Dispose();
        _keyHashes.Dispose();
        _indexes.Dispose();
        _scratch.Dispose();
        if (_slots.Length > 0) ArrayPool<int>.Shared.Return(_slots);
        _slots = [];
        _capacity = 0;
    }

    internal override void WritePrefix(IBufferWriter<byte> writer) => NativeWire.WriteUInt64(writer, KeysSerializationVersion);

    internal override void WriteData(IBufferWriter<byte> writer)
    {
        var rows = Count;
        if (rows == 0) return;
        var (code, width) = _keyCount switch
        {
            <= byte.MaxValue + 1 => (0UL, 1),
            <= ushort.MaxValue + 1 => (1UL, 2),
            _ => (2UL, 4),
        };
        NativeWire.WriteUInt64(writer, HasAdditionalKeysBit | NeedUpdateDictionary | code);
        NativeWire.WriteUInt64(writer, (ulong)_keyCount);
        for (var k = 0; k < _keyCount; k++) NativeWire.WriteString(writer, Key(k));
        NativeWire.WriteUInt64(writer, (ulong)rows);
        if (width == sizeof(int))
        {
            NativeWire.WriteBytes(writer, _indexes.Written);
            return;
        }
        const int Chunk = 4096;
        for (var start = 0; start < rows; start += Chunk)
        {
            var n = Math.Min(Chunk, rows - start);
            var span = writer.GetSpan(n * width);
            for (var i = 0; i < n; i++)
            {
                var index = _indexes.Read<int>(start + i);
                if (width == 1) span[i] = (byte)index;
                else BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)index);
            }
            writer.Advance(n * width);
        }
    }

    private ReadOnlySpan<byte> Key(int index)
    {
        var start = index == 0 ? 0 : _keyEnds.Read<int>(index - 1);
        return _keyBytes.Written[start.._keyEnds.Read<int>(index)];
    }

    private int GetOrAddKey(ReadOnlySpan<byte> text)
    {
        var hash = Hash(text);
        var mask = _capacity - 1;
        for (var slot = hash & mask; ; slot = (slot + 1) & mask)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                var index = AddKey(text, hash);
                _slots[slot] = index + 1;
                // Keep the table at most half full so probes stay short.
                if (_keyCount * 2 > _capacity) Rehash(_capacity * 2);
                return index;
            }
            var candidate = entry - 1;
            if (_keyHashes.Read<int>(candidate) == hash && Key(candidate).SequenceEqual(text)) return candidate;
        }
    }

    private int AddKey(ReadOnlySpan<byte> text, int hash)
    {
        _keyBytes.Append(text);
        _keyEnds.Append(_keyBytes.Length);
        _keyHashes.Append(hash);
        return _keyCount++;
    }

    private void Reset()
    {
        _keyBytes.Clear();
        _keyEnds.Clear();
        _keyHashes.Clear();
        _keyCount = 0;
        // The NULL slot is never looked up by text, so it is not in the hash table; '' is.
        if (_nullable) AddKey([], 0);
        AddKey([], Hash([]));
        Rehash(Math.Max(_capacity, 64));
    }

    private void Rehash(int capacity)
    {
        while (_keyCount * 2 > capacity) capacity *= 2;
        if (_slots.Length < capacity)
        {
            if (_slots.Length > 0) ArrayPool<int>.Shared.Return(_slots);
            // ArrayPool may hand back a larger array; only the power-of-two prefix is used.
            _slots = ArrayPool<int>.Shared.Rent(capacity);
        }
        _capacity = capacity;
        var slots = _slots.AsSpan(0, capacity);
        slots.Clear();
        var mask = capacity - 1;
        for (var k = _nullable ? 1 : 0; k < _keyCount; k++)
        {
            var slot = _keyHashes.Read<int>(k) & mask;
            while (slots[slot] != 0) slot = (slot + 1) & mask;
            slots[slot] = k + 1;
        }
    }

    private static int Hash(ReadOnlySpan<byte> text)
    {
        var hash = default(HashCode);
        hash.AddBytes(text);
        return hash.ToHashCode() & int.MaxValue;
    }
}

using System.Buffers.Text;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>The declared names and values of an Enum8/Enum16 type, matched against JSON without allocating.</summary>
internal sealed class EnumValues(string typeName, IReadOnlyList<(byte[] Name, short Value)> entries)
{
    private readonly byte[][] _names = [.. entries.Select(e => e.Name)];
    private readonly short[] _values = [.. entries.Select(e => e.Value)];

    public string TypeName => typeName;

    public IReadOnlyList<(byte[] Name, short Value)> Entries => entries;

    /// <summary>ClickHouse keeps enum entries sorted by value and defaults to the first, i.e. the smallest value.</summary>
    public short Default { get; } = entries.Count > 0 ? entries.Min(e => e.Value) : (short)0;

    public short Parse(ref Utf8JsonReader reader, PooledBuffer scratch)
    {
        scratch.Clear();
        JsonString.AppendTo(scratch, ref reader, typeName);
        var text = scratch.Written;
        if (reader.TokenType != JsonTokenType.Number)
        {
            // Linear: enums are small, and this avoids hashing for the common handful of names.
            for (var i = 0; i < _names.Length; i++)
            {
                if (text.SequenceEqual(_names[i])) return _values[i];
            }
        }
        if (Utf8Parser.TryParse(text, out int number, out var used) && used == text.Length)
        {
            var index = Array.IndexOf(_values, (short)number);
            if (number == (short)number && index >= 0) return _values[index];
        }
        throw new ColumnValueException(typeName, text, "not a declared name or value");
    }
}

/// <summary>Enum8: Int8 per row.</summary>
internal sealed class Enum8Column(EnumValues values) : FixedWidthColumn<sbyte>
{
    private readonly PooledBuffer _scratch = new();

    protected override sbyte DefaultValue => (sbyte)values.Default;

    protected override sbyte Parse(ref Utf8JsonReader reader) => (sbyte)values.Parse(ref reader, _scratch);

    public override void Dispose()
    {
        base.Dispose();
        _scratch.Dispose();
    }
}

/// <summary>Enum16: Int16 per row.</summary>
internal sealed class Enum16Column(EnumValues values) : FixedWidthColumn<short>
{
    private readonly PooledBuffer _scratch = new();

    protected override short DefaultValue => values.Default;

    protected override short Parse(ref Utf8JsonReader reader) => values.Parse(ref reader, _scratch);

    public override void Dispose()
    {
        base.Dispose();
        _scratch.Dispose();
    }
}

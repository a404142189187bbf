using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

internal sealed class UInt8Column : FixedWidthColumn<byte>
{
    protected override byte Parse(ref Utf8JsonReader reader) => (byte)NumberText.ParseUnsigned(ref reader, byte.MaxValue, "UInt8");

    public override bool TryAppendInteger(long value) => value is >= 0 and <= byte.MaxValue && Appended((byte)value);
}

internal sealed class UInt16Column : FixedWidthColumn<ushort>
{
    protected override ushort Parse(ref Utf8JsonReader reader) => (ushort)NumberText.ParseUnsigned(ref reader, ushort.MaxValue, "UInt16");

    public override bool TryAppendInteger(long value) => value is >= 0 and <= ushort.MaxValue && Appended((ushort)value);
}

internal sealed class UInt32Column : FixedWidthColumn<uint>
{
    protected override uint Parse(ref Utf8JsonReader reader) => (uint)NumberText.ParseUnsigned(ref reader, uint.MaxValue, "UInt32");

    public override bool TryAppendInteger(long value) => value is >= 0 and <= uint.MaxValue && Appended((uint)value);
}

internal sealed class UInt64Column : FixedWidthColumn<ulong>
{
    protected override ulong Parse(ref Utf8JsonReader reader) => NumberText.ParseUnsigned(ref reader, ulong.MaxValue, "UInt64");

    public override bool TryAppendInteger(long value) => value >= 0 && Appended((ulong)value);
}

internal sealed class Int8Column : FixedWidthColumn<sbyte>
{
    protected override sbyte Parse(ref Utf8JsonReader reader) => (sbyte)NumberText.ParseSigned(ref reader, sbyte.MinValue, sbyte.MaxValue, "Int8");

    public override bool TryAppendInteger(long value) => value is >= sbyte.MinValue and <= sbyte.MaxValue && Appended((sbyte)value);
}

internal sealed class Int16Column : FixedWidthColumn<short>
{
    protected override short Parse(ref Utf8JsonReader reader) => (short)NumberText.ParseSigned(ref reader, short.MinValue, short.MaxValue, "Int16");

    public override bool TryAppendInteger(long value) => value is >= short.MinValue and <= short.MaxValue && Appended((short)value);
}

internal sealed class Int32Column : FixedWidthColumn<int>
{
    protected override int Parse(ref Utf8JsonReader reader) => (int)NumberText.ParseSigned(ref reader, int.MinValue, int.MaxValue, "Int32");

    public override bool TryAppendInteger(long value) => value is >= int.MinValue and <= int.MaxValue && Appended((int)value);
}

internal sealed class Int64Column : FixedWidthColumn<long>
{
    protected override long Parse(ref Utf8JsonReader reader) => NumberText.ParseSigned(ref reader, long.MinValue, long.MaxValue, "Int64");

    public override bool TryAppendInteger(long value) => Appended(value);
}

internal sealed class Float32Column : FixedWidthColumn<float>
{
    protected override float Parse(ref Utf8JsonReader reader) => NumberText.ParseSingle(ref reader, "Float32");
}

internal sealed class Float64Column : FixedWidthColumn<double>
{
    protected override double Parse(ref Utf8JsonReader reader) => NumberText.ParseDouble(ref reader, "Float64");
}

/// <summary>Bool is one byte per row, 0 or 1 (same layout as UInt8; confirmed against chDB 26.7).</summary>
internal sealed class BoolColumn : FixedWidthColumn<byte>
{
    protected override byte Parse(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                return 1;
            case JsonTokenType.False:
                return 0;
            default:
                Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
                var text = scratch[..JsonScalar.CopyText(ref reader, scratch, "Bool")];
                if (text.SequenceEqual("1"u8) || text.SequenceEqual("true"u8)) return 1;
                if (text.SequenceEqual("0"u8) || text.SequenceEqual("false"u8)) return 0;
                throw new ColumnValueException("Bool", text, "expected true, false, 0 or 1");
        }
    }
}

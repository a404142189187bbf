using System.Buffers.Text;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Strict integer/float parsing of JSON numbers and numbers inside JSON strings.</summary>
internal static class NumberText
{
    public static long ParseSigned(ref Utf8JsonReader reader, long min, long max, string typeName)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (!Utf8Parser.TryParse(text, out long value, out var consumed) || consumed != text.Length)
            throw new ColumnValueException(typeName, text, IntegerProblem(text));
        if (value < min || value > max) throw new ColumnValueException(typeName, text, "out of range");
        return value;
    }

    public static ulong ParseUnsigned(ref Utf8JsonReader reader, ulong max, string typeName)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (text.Length > 0 && text[0] == (byte)'-')
        {
            // "-0" is still zero; any other negative is out of range rather than "not a number".
            if (Utf8Parser.TryParse(text, out long negative, out var used) && used == text.Length)
                return negative == 0 ? 0UL : throw new ColumnValueException(typeName, text, "out of range");
            throw new ColumnValueException(typeName, text, IntegerProblem(text));
        }
        if (!Utf8Parser.TryParse(text, out ulong value, out var consumed) || consumed != text.Length)
            throw new ColumnValueException(typeName, text, IntegerProblem(text));
        if (value > max) throw new ColumnValueException(typeName, text, "out of range");
        return value;
    }

    public static double ParseDouble(ref Utf8JsonReader reader, string typeName)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (TryParseSpecial(text, out var special)) return special;
        if (!Utf8Parser.TryParse(text, out double value, out var consumed) || consumed != text.Length)
            throw new ColumnValueException(typeName, text, "not a number");
        if (double.IsInfinity(value)) throw new ColumnValueException(typeName, text, "out of range");
        return value;
    }

    public static float ParseSingle(ref Utf8JsonReader reader, string typeName)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (TryParseSpecial(text, out var special)) return (float)special;
        if (!Utf8Parser.TryParse(text, out float value, out var consumed) || consumed != text.Length)
            throw new ColumnValueException(typeName, text, "not a number");
        if (float.IsInfinity(value)) throw new ColumnValueException(typeName, text, "out of range");
        return value;
    }

    /// <summary>The positive quiet NaN ClickHouse produces for nan and -nan (.NET's double.NaN has the sign bit set).</summary>
    private static readonly double ClickHouseNaN = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_0000);

    /// <summary>The spellings ClickHouse itself prints and parses for non-finite floats.</summary>
    private static bool TryParseSpecial(ReadOnlySpan<byte> text, out double value)
    {
        value = text switch
        {
            _ when text.SequenceEqual("nan"u8) || text.SequenceEqual("NaN"u8) || text.SequenceEqual("-nan"u8) => ClickHouseNaN,
            _ when text.SequenceEqual("inf"u8) || text.SequenceEqual("+inf"u8) || text.SequenceEqual("Infinity"u8) => double.PositiveInfinity,
            _ when text.SequenceEqual("-inf"u8) || text.SequenceEqual("-Infinity"u8) => double.NegativeInfinity,
            _ => 0,
        };
        return value != 0;
    }

    private static string IntegerProblem(ReadOnlySpan<byte> text)
    {
        if (text.IndexOfAny("0123456789"u8) < 0) return "not a number";
        if (text.IndexOfAny(".eE"u8) >= 0) return "not an integer";
        var digits = text.Length > 0 && text[0] is (byte)'-' or (byte)'+' ? text[1..] : text;
        return digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0 ? "out of range" : "not a number";
    }
}

using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Decimal(P, S) with P &lt;= 9: Int32 of value * 10^S.</summary>
internal sealed class Decimal32Column(int precision, int scale) : FixedWidthColumn<int>
{
    private readonly DecimalText _text = new(precision, scale);

    protected override int Parse(ref Utf8JsonReader reader) => (int)_text.Parse(ref reader);
}

/// <summary>Decimal(P, S) with 10 &lt;= P &lt;= 18: Int64 of value * 10^S.</summary>
internal sealed class Decimal64Column(int precision, int scale) : FixedWidthColumn<long>
{
    private readonly DecimalText _text = new(precision, scale);

    protected override long Parse(ref Utf8JsonReader reader) => (long)_text.Parse(ref reader);
}

/// <summary>Decimal(P, S) with 19 &lt;= P &lt;= 38: Int128 (low half first, little-endian) of value * 10^S.</summary>
internal sealed class Decimal128Column(int precision, int scale) : FixedWidthColumn<Int128>
{
    private readonly DecimalText _text = new(precision, scale);

    protected override Int128 Parse(ref Utf8JsonReader reader) => _text.Parse(ref reader);
}

/// <summary>Exact decimal parsing of the JSON number text (never through double): the scaled integer, or an error
/// when the value has more than S significant fractional digits or does not fit in P digits.</summary>
internal sealed class DecimalText
{
    private const int MaxPrecision = 38;

    private readonly int _scale;
    private readonly Int128 _limit;
    private readonly string _typeName;

    public DecimalText(int precision, int scale)
    {
        _scale = scale;
        _limit = Pow10(precision);
        _typeName = $"Decimal({precision}, {scale})";
    }

    public Int128 Parse(ref Utf8JsonReader reader)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, _typeName)];
        var problem = TryParse(text, out var value);
        return problem is null ? value : throw new ColumnValueException(_typeName, text, problem);
    }

    private string? TryParse(ReadOnlySpan<byte> text, out Int128 value)
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (i < text.Length && text[i] is (byte)'-' or (byte)'+') negative = text[i++] == '-';
        var intStart = i;
        while (i < text.Length && (uint)(text[i] - '0') <= 9) i++;
        var intDigits = text[intStart..i];
        var fracDigits = ReadOnlySpan<byte>.Empty;
        if (i < text.Length && text[i] == '.')
        {
            var fracStart = ++i;
            while (i < text.Length && (uint)(text[i] - '0') <= 9) i++;
            fracDigits = text[fracStart..i];
        }
        if (intDigits.IsEmpty && fracDigits.IsEmpty) return "not a number";
        var exponent = 0;
        if (i < text.Length && text[i] is (byte)'e' or (byte)'E')
        {
            i++;
            var expNegative = false;
            if (i < text.Length && text[i] is (byte)'-' or (byte)'+') expNegative = text[i++] == '-';
            var expStart = i;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                if (exponent > 1000) return "out of range";
                exponent = exponent * 10 + (text[i++] - '0');
            }
            if (i == expStart) return "not a number";
            if (expNegative) exponent = -exponent;
        }
        if (i != text.Length) return "not a number";

        // Mantissa digits without leading zeros and without trailing fractional zeros (they add no value).
        fracDigits = fracDigits.TrimEnd((byte)'0');
        intDigits = intDigits.TrimStart((byte)'0');
        Int128 mantissa = 0;
        var significant = 0;
        foreach (var d in intDigits) Accumulate(ref mantissa, ref significant, d);
        foreach (var d in fracDigits) Accumulate(ref mantissa, ref significant, d);
        if (significant > MaxPrecision) return "out of range";
        var shift = _scale + exponent - fracDigits.Length;
        if (mantissa == 0)
        {
            value = 0;
            return null;
        }
        if (shift < 0)
        {
            if (-shift > MaxPrecision) return $"more than {_scale} fractional digits";
            var divisor = Pow10(-shift);
            if (mantissa % divisor != 0) return $"more than {_scale} fractional digits";
            mantissa /= divisor;
        }
        else if (shift > 0)
        {
            if (shift > MaxPrecision) return "out of range";
            try
            {
                mantissa = checked(mantissa * Pow10(shift));
            }
            catch (OverflowException)
            {
                return "out of range";
            }
        }
        if (mantissa >= _limit) return "out of range";
        value = negative ? -mantissa : mantissa;
        return null;
    }

    private static void Accumulate(ref Int128 mantissa, ref int significant, byte digit)
    {
        if (significant == 0 && digit == '0')
        {
            // Leading zeros of the fraction (e.g. 0.001) are not significant; still shift by position.
            mantissa *= 10;
            return;
        }
        if (++significant > MaxPrecision) return;
        mantissa = mantissa * 10 + (digit - '0');
    }

    private static readonly Int128[] Powers = BuildPowers();

    private static Int128 Pow10(int n) => Powers[n];

    private static Int128[] BuildPowers()
    {
        var powers = new Int128[MaxPrecision + 1];
        powers[0] = 1;
        for (var i = 1; i < powers.Length; i++) powers[i] = powers[i - 1] * 10;
        return powers;
    }
}

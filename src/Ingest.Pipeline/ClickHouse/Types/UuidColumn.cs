using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>UUID in Native: two little-endian UInt64, the high half (first 16 hex digits) first. Verified against
/// ClickHouse 18.16 and chDB 26.7: '00112233-4455-6677-8899-aabbccddeeff' is 77 66 55 44 33 22 11 00 ff ee .. 88.</summary>
internal sealed class UuidColumn : FixedWidthColumn<UuidColumn.Value>
{
    protected override Value Parse(ref Utf8JsonReader reader)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        if (reader.TokenType == JsonTokenType.Number) throw ColumnValueException.ForToken("UUID", ref reader);
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, "UUID")];
        if (!TryParse(text, out var value)) throw new ColumnValueException("UUID", text, "expected 32 hex digits, optionally as 8-4-4-4-12");
        return value;
    }

    public static bool TryParse(ReadOnlySpan<byte> text, out Value value)
    {
        value = default;
        var dashed = text.Length == 36;
        if (!dashed && text.Length != 32) return false;
        if (dashed && (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')) return false;
        ulong high = 0, low = 0;
        var digits = 0;
        foreach (var c in text)
        {
            if (c == '-' && dashed) continue;
            var nibble = HexValue(c);
            if (nibble < 0) return false;
            if (digits++ < 16) high = (high << 4) | (uint)nibble;
            else low = (low << 4) | (uint)nibble;
        }
        if (digits != 32) return false;
        value = new Value(high, low);
        return true;
    }

    internal static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>Sequential layout: High is written first.</summary>
    internal readonly record struct Value(ulong High, ulong Low);
}

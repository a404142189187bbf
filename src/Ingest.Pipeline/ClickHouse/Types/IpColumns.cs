using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>IPv4: UInt32 little-endian of the address as a number (1.2.3.4 is 04 03 02 01; chDB 26.7 verified).</summary>
internal sealed class IPv4Column : FixedWidthColumn<uint>
{
    protected override uint Parse(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number) return (uint)NumberText.ParseUnsigned(ref reader, uint.MaxValue, "IPv4");
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, "IPv4")];
        if (!IpText.TryParseIPv4(text, out var address)) throw new ColumnValueException("IPv4", text, "expected a dotted quad");
        return address;
    }
}

/// <summary>IPv6: the 16 address bytes in network order; IPv4 text is stored IPv4-mapped (::ffff:a.b.c.d) as
/// ClickHouse does.</summary>
internal sealed class IPv6Column : FixedWidthColumn<IPv6Column.Address>
{
    protected override Address Parse(ref Utf8JsonReader reader)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        if (reader.TokenType == JsonTokenType.Number) throw ColumnValueException.ForToken("IPv6", ref reader);
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, "IPv6")];
        var address = default(Address);
        if (!IpText.TryParseIPv6(text, address)) throw new ColumnValueException("IPv6", text, "expected an IPv6 address");
        return address;
    }

    [InlineArray(16)]
    internal struct Address
    {
        private byte _first;
    }
}

internal static class IpText
{
    public static bool TryParseIPv4(ReadOnlySpan<byte> text, out uint address)
    {
        address = 0;
        for (var part = 0; part < 4; part++)
        {
            if (part > 0)
            {
                if (text.IsEmpty || text[0] != '.') return false;
                text = text[1..];
            }
            var digits = 0;
            var octet = 0;
            while (digits < text.Length && (uint)(text[digits] - '0') <= 9 && digits < 3) octet = octet * 10 + (text[digits++] - '0');
            if (digits == 0 || octet > 255) return false;
            address = (address << 8) | (uint)octet;
            text = text[digits..];
        }
        return text.IsEmpty;
    }

    public static bool TryParseIPv6(ReadOnlySpan<byte> text, Span<byte> destination)
    {
        destination.Clear();
        if (TryParseIPv4(text, out var v4))
        {
            destination[10] = 0xff;
            destination[11] = 0xff;
            BinaryPrimitives.WriteUInt32BigEndian(destination[12..], v4);
            return true;
        }
        Span<ushort> groups = stackalloc ushort[8];
        var count = 0;
        var gap = -1;
        var i = 0;
        if (text.StartsWith("::"u8))
        {
            gap = 0;
            i = 2;
        }
        while (i < text.Length)
        {
            if (count == 8) return false;
            // An embedded IPv4 tail takes the last two groups.
            var rest = text[i..];
            var colon = rest.IndexOf((byte)':');
            if ((colon < 0 ? rest : rest[..colon]).IndexOf((byte)'.') >= 0)
            {
                if (count > 6 || !TryParseIPv4(rest, out var tail)) return false;
                groups[count++] = (ushort)(tail >> 16);
                groups[count++] = (ushort)tail;
                i = text.Length;
                break;
            }
            var value = 0;
            var digits = 0;
            while (i < text.Length && digits < 4 && UuidColumn.HexValue(text[i]) is var h and >= 0)
            {
                value = (value << 4) | h;
                digits++;
                i++;
            }
            if (digits == 0) return false;
            groups[count++] = (ushort)value;
            if (i == text.Length) break;
            if (text[i] != ':') return false;
            i++;
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0) return false;
                gap = count;
                i++;
            }
            else if (i == text.Length)
            {
                return false;
            }
        }
        if (gap < 0 ? count != 8 : count > 7) return false;
        var zeros = 8 - count;
        for (int g = 0, o = 0; g < count; g++, o++)
        {
            if (g == gap) o += zeros;
            BinaryPrimitives.WriteUInt16BigEndian(destination[(o * 2)..], groups[g]);
        }
        return true;
    }
}

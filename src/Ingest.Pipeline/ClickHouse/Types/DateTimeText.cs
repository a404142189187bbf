using System.Buffers.Text;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Allocation-free parsing of the date/time texts we accept: 'YYYY-MM-DD', and ISO 8601 / ClickHouse's
/// 'YYYY-MM-DD hh:mm:ss' with optional fraction and optional Z / ±hh:mm / ±hhmm / ±hh offset.</summary>
internal static class DateTimeText
{
    /// <summary>DateOnly.DayNumber of 1970-01-01.</summary>
    public const int EpochDayNumber = 719_162;

    public const int MaxFractionDigits = 9;

    public readonly record struct Parsed(long LocalSeconds, long FractionNanos, bool HasOffset, int OffsetSeconds, bool HasTime);

    /// <summary>Days since 1970-01-01 for 'YYYY-MM-DD', or false.</summary>
    public static bool TryParseDate(ReadOnlySpan<byte> text, out int days)
    {
        days = 0;
        if (text.Length != 10 || text[4] != '-' || text[7] != '-') return false;
        if (!TryDigits(text[..4], out var year) || !TryDigits(text.Slice(5, 2), out var month) || !TryDigits(text.Slice(8, 2), out var day)) return false;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)) return false;
        days = new DateOnly(year, month, day).DayNumber - EpochDayNumber;
        return true;
    }

    public static bool TryParse(ReadOnlySpan<byte> text, out Parsed parsed)
    {
        parsed = default;
        if (text.Length < 10 || !TryParseDate(text[..10], out var days)) return false;
        var seconds = days * 86_400L;
        if (text.Length == 10)
        {
            parsed = new Parsed(seconds, 0, false, 0, false);
            return true;
        }
        if (text[10] is not ((byte)'T' or (byte)' ' or (byte)'t') || text.Length < 16 || text[13] != ':') return false;
        if (!TryDigits(text.Slice(11, 2), out var hour) || !TryDigits(text.Slice(14, 2), out var minute)) return false;
        var second = 0;
        var i = 16;
        if (i < text.Length && text[i] == ':')
        {
            if (text.Length < 19 || !TryDigits(text.Slice(17, 2), out second)) return false;
            i = 19;
        }
        if (hour > 23 || minute > 59 || second > 59) return false;
        seconds += hour * 3600 + minute * 60 + second;
        long nanos = 0;
        if (i < text.Length && text[i] is (byte)'.' or (byte)',')
        {
            var start = ++i;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                // Digits past nanoseconds are dropped (truncation, as ClickHouse does).
                if (i - start < MaxFractionDigits) nanos = nanos * 10 + (text[i] - '0');
                i++;
            }
            if (i == start) return false;
            for (var n = Math.Min(i - start, MaxFractionDigits); n < MaxFractionDigits; n++) nanos *= 10;
        }
        var hasOffset = false;
        var offset = 0;
        if (i < text.Length)
        {
            if (text[i] is (byte)'Z' or (byte)'z')
            {
                hasOffset = true;
                i++;
            }
            else if (text[i] is (byte)'+' or (byte)'-')
            {
                var sign = text[i] == '-' ? -1 : 1;
                var rest = text[(i + 1)..];
                // ±hh, ±hhmm or ±hh:mm.
                var minutes = rest.Length switch
                {
                    2 => ReadOnlySpan<byte>.Empty,
                    4 => rest[2..],
                    5 when rest[2] == ':' => rest[3..],
                    _ => [(byte)'x'],
                };
                var om = 0;
                if (!TryDigits(rest[..Math.Min(2, rest.Length)], out var oh) || (!minutes.IsEmpty && !TryDigits(minutes, out om))) return false;
                if (oh > 18 || om > 59) return false;
                hasOffset = true;
                offset = sign * (oh * 3600 + om * 60);
                i = text.Length;
            }
            if (i != text.Length) return false;
        }
        parsed = new Parsed(seconds, nanos, hasOffset, offset, true);
        return true;
    }

    /// <summary>Seconds since the epoch of a parsed wall-clock time: its own offset if it had one, else the zone's
    /// offset at that wall-clock time (null zone = UTC).</summary>
    public static long ToUnixSeconds(in Parsed parsed, TimeZoneInfo? zone)
    {
        if (parsed.HasOffset) return parsed.LocalSeconds - parsed.OffsetSeconds;
        if (zone is null) return parsed.LocalSeconds;
        var local = new DateTime(DateTime.UnixEpoch.Ticks + parsed.LocalSeconds * TimeSpan.TicksPerSecond, DateTimeKind.Unspecified);
        return parsed.LocalSeconds - (long)zone.GetUtcOffset(local).TotalSeconds;
    }

    /// <summary>A JSON number or numeric string as unix time: integer seconds, or milliseconds when above 1e11
    /// (1e11 seconds is year 5138, so nothing real is ambiguous), with an optional decimal fraction of seconds.</summary>
    public static bool TryParseUnix(ReadOnlySpan<byte> text, out long seconds, out long fractionNanos)
    {
        seconds = 0;
        fractionNanos = 0;
        var dot = text.IndexOf((byte)'.');
        var whole = dot < 0 ? text : text[..dot];
        if (whole.Length == 0 || !Utf8Parser.TryParse(whole, out long value, out var used) || used != whole.Length) return false;
        if (dot >= 0)
        {
            var fraction = text[(dot + 1)..];
            if (fraction.Length == 0 || value < 0) return false;
            long nanos = 0;
            for (var i = 0; i < fraction.Length; i++)
            {
                if ((uint)(fraction[i] - '0') > 9) return false;
                if (i < MaxFractionDigits) nanos = nanos * 10 + (fraction[i] - '0');
            }
            for (var n = Math.Min(fraction.Length, MaxFractionDigits); n < MaxFractionDigits; n++) nanos *= 10;
            seconds = value;
            fractionNanos = nanos;
            return true;
        }
        if (value > 100_000_000_000L)
        {
            seconds = value / 1000;
            fractionNanos = value % 1000 * 1_000_000;
            return true;
        }
        seconds = value;
        return true;
    }

    private static bool TryDigits(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        foreach (var b in text)
        {
            if ((uint)(b - '0') > 9) return false;
            value = value * 10 + (b - '0');
        }
        return text.Length > 0;
    }
}

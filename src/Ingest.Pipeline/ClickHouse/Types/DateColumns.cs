using System.Buffers.Text;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Date: UInt16 days since 1970-01-01 (so 1970-01-01..2149-06-06). Input 'YYYY-MM-DD' or a day count.</summary>
internal sealed class DateColumn : FixedWidthColumn<ushort>
{
    protected override ushort Parse(ref Utf8JsonReader reader)
    {
        var days = DateDays.Parse(ref reader, "Date");
        if (days is < 0 or > ushort.MaxValue) throw ColumnValueException.ForToken("Date", ref reader, "outside 1970-01-01..2149-06-06");
        return (ushort)days;
    }
}

/// <summary>Date32: Int32 days since 1970-01-01; ClickHouse supports 1900-01-01..2299-12-31.</summary>
internal sealed class Date32Column : FixedWidthColumn<int>
{
    /// <summary>1900-01-01 and 2299-12-31 as days since the epoch.</summary>
    private const int MinDays = -25_567;
    private const int MaxDays = 120_529;

    protected override int Parse(ref Utf8JsonReader reader)
    {
        var days = DateDays.Parse(ref reader, "Date32");
        if (days is < MinDays or > MaxDays) throw ColumnValueException.ForToken("Date32", ref reader, "outside 1900-01-01..2299-12-31");
        return (int)days;
    }
}

internal static class DateDays
{
    public static long Parse(ref Utf8JsonReader reader, string typeName)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (DateTimeText.TryParseDate(text, out var days)) return days;
        if (reader.TokenType == JsonTokenType.Number && Utf8Parser.TryParse(text, out long count, out var used) && used == text.Length) return count;
        throw new ColumnValueException(typeName, text, "expected 'YYYY-MM-DD'");
    }
}

/// <summary>DateTime: UInt32 seconds since the epoch. Texts without an offset are wall-clock time in the column's
/// zone (UTC when the type has none); the zone is resolved once, by the type.</summary>
internal sealed class DateTimeColumn(TimeZoneInfo? zone) : FixedWidthColumn<uint>
{
    protected override uint Parse(ref Utf8JsonReader reader)
    {
        var seconds = DateTimeValue.Parse(ref reader, zone, "DateTime", out _);
        if (seconds is < 0 or > uint.MaxValue) throw ColumnValueException.ForToken("DateTime", ref reader, "outside 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC");
        return (uint)seconds;
    }
}

/// <summary>DateTime64(p): Int64 count of 10^-p seconds since the epoch; fraction digits past p are truncated.</summary>
internal sealed class DateTime64Column : FixedWidthColumn<long>
{
    private static readonly long[] PowersOf10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

    private readonly TimeZoneInfo? _zone;
    private readonly long _ticksPerSecond;
    private readonly long _nanosPerTick;
    private readonly string _typeName;

    public DateTime64Column(int precision, TimeZoneInfo? zone)
    {
        _zone = zone;
        _ticksPerSecond = PowersOf10[precision];
        _nanosPerTick = PowersOf10[9 - precision];
        _typeName = $"DateTime64({precision})";
    }

    protected override long Parse(ref Utf8JsonReader reader)
    {
        var seconds = DateTimeValue.Parse(ref reader, _zone, _typeName, out var nanos);
        try
        {
            return checked(seconds * _ticksPerSecond + nanos / _nanosPerTick);
        }
        catch (OverflowException)
        {
            throw ColumnValueException.ForToken(_typeName, ref reader, "out of range");
        }
    }
}

internal static class DateTimeValue
{
    /// <summary>Seconds since the epoch plus the non-negative fraction in nanoseconds.</summary>
    public static long Parse(ref Utf8JsonReader reader, TimeZoneInfo? zone, string typeName, out long fractionNanos)
    {
        Span<byte> scratch = stackalloc byte[JsonScalar.ScratchSize];
        var text = scratch[..JsonScalar.CopyText(ref reader, scratch, typeName)];
        if (DateTimeText.TryParse(text, out var parsed))
        {
            fractionNanos = parsed.FractionNanos;
            return DateTimeText.ToUnixSeconds(parsed, zone);
        }
        if (DateTimeText.TryParseUnix(text, out var seconds, out fractionNanos)) return seconds;
        throw new ColumnValueException(typeName, text, "expected ISO 8601, 'YYYY-MM-DD hh:mm:ss' or unix time");
    }
}

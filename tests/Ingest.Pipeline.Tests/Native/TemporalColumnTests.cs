using static Ingest.Pipeline.Tests.Native.JsonAppend;

namespace Ingest.Pipeline.Tests.Native;

public sealed class TemporalColumnTests
{
    private static long Read(byte[] bytes, int width, int row) => width switch
    {
        2 => BitConverter.ToUInt16(bytes, row * 2),
        4 => BitConverter.ToUInt32(bytes, row * 4),
        _ => BitConverter.ToInt64(bytes, row * 8),
    };

    [Theory]
    [InlineData("Date", "\"1970-01-01\"", 0)]
    [InlineData("Date", "\"2020-01-01\"", 18262)]
    [InlineData("Date", "\"2149-06-06\"", 65535)]
    [InlineData("Date", "18262", 18262)]
    [InlineData("Date", "null", 0)]
    [InlineData("DateTime", "\"2020-01-02T03:04:05Z\"", 1577934245)]
    [InlineData("DateTime", "\"2020-01-02 03:04:05\"", 1577934245)]
    [InlineData("DateTime", "\"2020-01-02T03:04:05.999+02:00\"", 1577934245 - 7200)]
    [InlineData("DateTime", "\"2020-01-02T03:04:05-0130\"", 1577934245 + 5400)]
    [InlineData("DateTime", "\"2020-01-02\"", 1577923200)]
    [InlineData("DateTime", "1577934245", 1577934245)]
    [InlineData("DateTime", "\"1577934245\"", 1577934245)]
    [InlineData("DateTime", "1577934245678", 1577934245)]
    [InlineData("DateTime", "1577934245.9", 1577934245)]
    [InlineData("DateTime", "\"2106-02-07 06:28:15\"", 4294967295)]
    [InlineData("DateTime('Europe/Berlin')", "\"2020-01-02 03:04:05\"", 1577934245 - 3600)]
    [InlineData("DateTime('Europe/Berlin')", "\"2020-07-02 03:04:05\"", 1593659045 - 7200)]
    [InlineData("DateTime('Europe/Berlin')", "\"2020-07-02T03:04:05Z\"", 1593659045)]
    [InlineData("DateTime('Asia/Kolkata')", "\"2020-07-02 03:04:05\"", 1593659045 - 19800)]
    public void Dates_and_times_become_epoch_counts(string type, string json, long expected)
    {
        using var column = Create(type);
        Append(column, json);
        Assert.Equal(expected, Read(Bytes(column), type.StartsWith("DateTime", StringComparison.Ordinal) ? 4 : 2, 0));
    }

    [Theory]
    [InlineData("DateTime64(3)", "\"2020-01-02T03:04:05.678Z\"", 1577934245678)]
    [InlineData("DateTime64(3, 'UTC')", "\"2020-01-02 03:04:05.6789\"", 1577934245678)]
    [InlineData("DateTime64(6)", "\"2020-01-02 03:04:05.5\"", 1577934245500000)]
    [InlineData("DateTime64(9)", "\"2020-01-02 03:04:05.123456789\"", 1577934245123456789)]
    [InlineData("DateTime64(0)", "\"2020-01-02 03:04:05.9\"", 1577934245)]
    [InlineData("DateTime64(3)", "\"1969-12-31 23:59:59.5\"", -500)]
    [InlineData("DateTime64(3)", "\"1900-01-01 00:00:00\"", -2208988800000)]
    [InlineData("DateTime64(3)", "1577934245678", 1577934245678)]
    [InlineData("DateTime64(3)", "1577934245.25", 1577934245250)]
    [InlineData("DateTime64(2, 'Europe/Berlin')", "\"2020-01-02 03:04:05.12\"", (1577934245 - 3600) * 100L + 12)]
    [InlineData("Date32", "\"1900-01-01\"", -25567)]
    [InlineData("Date32", "\"2299-12-31\"", 120529)]
    [InlineData("Date32", "\"1969-12-31\"", -1)]
    public void Wide_dates_and_times(string type, string json, long expected)
    {
        using var column = Create(type);
        Append(column, json);
        var bytes = Bytes(column);
        Assert.Equal(expected, type == "Date32" ? BitConverter.ToInt32(bytes) : BitConverter.ToInt64(bytes));
    }

    [Theory]
    [InlineData("Date", "\"1969-12-31\"", "outside 1970-01-01..2149-06-06")]
    [InlineData("Date", "\"2149-06-07\"", "outside")]
    [InlineData("Date", "\"2020-02-30\"", "expected 'YYYY-MM-DD'")]
    [InlineData("Date", "\"2020-1-1\"", "expected 'YYYY-MM-DD'")]
    [InlineData("Date", "\"\"", "expected 'YYYY-MM-DD'")]
    [InlineData("Date32", "\"1899-12-31\"", "outside 1900-01-01..2299-12-31")]
    [InlineData("DateTime", "\"1969-12-31 23:59:59\"", "outside")]
    [InlineData("DateTime", "\"2020-01-02 24:00:00\"", "expected ISO 8601")]
    [InlineData("DateTime", "\"2020-01-02T03:04:05+25:00\"", "expected ISO 8601")]
    [InlineData("DateTime", "\"2020-01-02T03:04:05 junk\"", "expected ISO 8601")]
    [InlineData("DateTime", "-1", "outside")]
    [InlineData("DateTime", "true", "expected DateTime but got true")]
    [InlineData("DateTime64(3)", "\"yesterday\"", "expected DateTime64(3)")]
    public void Bad_dates_fail_and_leave_the_column_unchanged(string type, string json, string message)
    {
        using var column = Create(type);
        Append(column, "\"2020-01-01\"");
        Assert.Contains(message, Fails(column, json).Message, StringComparison.Ordinal);
    }
}

using System.Buffers;
using System.Text;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.Tests.Native;

/// <summary>Feeds JSON text to columns the way the decoder does: reader positioned on the value.</summary>
internal static class JsonAppend
{
    public static void Append(Column column, string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        Assert.True(reader.Read());
        column.AppendJson(ref reader);
        // The whole value was consumed: nothing but the end of the document follows.
        Assert.False(reader.Read());
    }

    /// <summary>Same, but over a sequence of one-byte segments, so every value arrives as HasValueSequence.</summary>
    public static void AppendSegmented(Column column, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(Segments.Of(bytes));
        Assert.True(reader.Read());
        column.AppendJson(ref reader);
        Assert.False(reader.Read());
    }

    /// <summary>Appends every element of a JSON array as one row each.</summary>
    public static void AppendRows(Column column, string jsonArray)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(jsonArray));
        Assert.True(reader.Read());
        Assert.Equal(JsonTokenType.StartArray, reader.TokenType);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) column.AppendJson(ref reader);
    }

    public static ColumnValueException Fails(Column column, string json)
    {
        var before = Bytes(column);
        var count = column.Count;
        var e = Assert.Throws<ColumnValueException>(() => Append(column, json));
        Assert.Equal(count, column.Count);
        Assert.Equal(before, Bytes(column));
        return e;
    }

    public static byte[] Bytes(Column column)
    {
        var writer = new ArrayBufferWriter<byte>();
        column.WriteTo(writer);
        return writer.WrittenSpan.ToArray();
    }

    public static Column Create(string type) => ColumnType.Parse(type, "c").CreateColumn();

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public static ReadOnlySequence<byte> Of(byte[] bytes)
        {
            var first = new Segments(bytes.AsMemory(0, 1), 0);
            var last = first;
            for (var i = 1; i < bytes.Length; i++)
            {
                var next = new Segments(bytes.AsMemory(i, 1), i);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}

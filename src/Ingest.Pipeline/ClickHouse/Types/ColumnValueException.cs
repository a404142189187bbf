using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>A JSON value that cannot be stored in a column of the expected ClickHouse type.</summary>
internal sealed class ColumnValueException : Exception
{
    /// <summary>Enough to recognize the value in a log line without dumping a whole message.</summary>
    private const int MaxShownBytes = 64;

    public ColumnValueException(string message)
        : base(message)
    {
    }

    public ColumnValueException(string expectedType, ReadOnlySpan<byte> text, string? reason = null)
        : base(Format(expectedType, Show(text), reason))
    {
    }

    /// <summary>Describes the reader's current token (strings quoted, containers by kind).</summary>
    public static ColumnValueException ForToken(string expectedType, ref Utf8JsonReader reader, string? reason = null)
    {
        var shown = reader.TokenType switch
        {
            JsonTokenType.StartArray => "array",
            JsonTokenType.StartObject => "object",
            JsonTokenType.String or JsonTokenType.PropertyName => "'" + Show(RawBytes(ref reader)) + "'",
            _ => Show(RawBytes(ref reader)),
        };
        return new ColumnValueException($"expected {expectedType} but got {shown}{(reason is null ? "" : ": " + reason)}");
    }

    private static string Format(string expectedType, string shown, string? reason)
        => $"expected {expectedType} but got '{shown}'{(reason is null ? "" : ": " + reason)}";

    private static byte[] RawBytes(ref Utf8JsonReader reader)
        => reader.HasValueSequence ? BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray();

    private static string Show(ReadOnlySpan<byte> text)
    {
        if (text.Length <= MaxShownBytes) return Encoding.UTF8.GetString(text);
        return Encoding.UTF8.GetString(text[..MaxShownBytes]) + $"…({text.Length} bytes)";
    }
}

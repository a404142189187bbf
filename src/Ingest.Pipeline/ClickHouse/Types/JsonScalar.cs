using System.Buffers;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Reads a scalar token's text without allocating: numbers raw, strings unescaped.</summary>
internal static class JsonScalar
{
    /// <summary>Longer than any number, date, UUID or IP address text we accept; longer input is rejected.</summary>
    public const int ScratchSize = 128;

    public static bool IsText(JsonTokenType type) => type is JsonTokenType.String or JsonTokenType.PropertyName;

    /// <summary>Copies the text of the current Number/String/PropertyName token into <paramref name="scratch"/>
    /// and returns its length; anything else, or text longer than the scratch, throws.</summary>
    public static int CopyText(ref Utf8JsonReader reader, scoped Span<byte> scratch, string expectedType)
    {
        var type = reader.TokenType;
        if (type is not (JsonTokenType.Number or JsonTokenType.String or JsonTokenType.PropertyName))
            throw ColumnValueException.ForToken(expectedType, ref reader);
        var rawLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (rawLength > scratch.Length) throw ColumnValueException.ForToken(expectedType, ref reader, "too long");
        if (type != JsonTokenType.Number && (reader.ValueIsEscaped || reader.HasValueSequence))
            return reader.CopyString(scratch);
        if (reader.HasValueSequence)
        {
            reader.ValueSequence.CopyTo(scratch);
            return (int)rawLength;
        }
        reader.ValueSpan.CopyTo(scratch);
        return (int)rawLength;
    }
}

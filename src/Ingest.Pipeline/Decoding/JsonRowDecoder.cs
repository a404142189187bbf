using System.Text;
using System.Text.Json;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.Decoding;

/// <summary>Decodes one JSON object per message straight into a <see cref="ColumnBatch"/>: each field's value is
/// parsed in place by its column (<see cref="Column.AppendJson"/>), nothing is allocated per message. Fields map to
/// columns by name or by a configured path (a.b.c); fields no column takes are skipped (or, strict, rejected);
/// columns the message lacks get their default. A message that fails leaves the batch exactly as it was.</summary>
internal sealed class JsonRowDecoder
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 };

    private readonly Node _root;
    private readonly bool _strict;
    private readonly int[] _seenInRow;
    private readonly string[] _names;
    private readonly int _topicColumn = -1, _partitionColumn = -1, _offsetColumn = -1, _timestampColumn = -1;
    private int _row;
    private Node? _field;

    public JsonRowDecoder(TableSchema schema, MappingOptions mapping)
    {
        _strict = mapping.Strict;
        _seenInRow = new int[schema.Columns.Count];
        _names = [.. schema.Columns.Select(c => c.Name)];
        _root = new Node("", -1);
        var known = schema.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var column in mapping.Columns.Keys)
        {
            if (!known.Contains(column))
                throw new InvalidOperationException($"Ingest:Mapping:Columns names column '{column}', which {schema.Table} does not have (columns: {string.Join(", ", known)})");
        }
        var provenance = mapping.Provenance;
        for (var i = 0; i < schema.Columns.Count; i++)
        {
            var name = schema.Columns[i].Name;
            if (!mapping.Columns.ContainsKey(name))
            {
                if (name == provenance.Topic) _topicColumn = i;
                else if (name == provenance.Partition) _partitionColumn = i;
                else if (name == provenance.Offset) _offsetColumn = i;
                else if (name == provenance.Timestamp) _timestampColumn = i;
                if (i == _topicColumn || i == _partitionColumn || i == _offsetColumn || i == _timestampColumn) continue;
            }
            var path = mapping.Columns.TryGetValue(name, out var p) ? p.Split('.') : [name];
            var node = _root;
            for (var depth = 0; depth < path.Length; depth++)
            {
                var last = depth == path.Length - 1;
                var child = node.Children.FirstOrDefault(c => c.Name == path[depth]);
                if (child is null)
                {
                    child = new Node(path[depth], last ? i : -1);
                    node.Children.Add(child);
                }
                else if (last || child.Column >= 0)
                {
                    throw new InvalidOperationException($"JSON path '{string.Join('.', path)}' of column '{name}' overlaps another column's path");
                }
                node = child;
            }
        }
        _root.Seal();
    }

    /// <summary>True when the table has a column for the message timestamp (so the consumer must fetch timestamps).</summary>
    public bool NeedsTimestamp => _timestampColumn >= 0;

    /// <summary>True when the table has a column for the message offset (rows name their message).</summary>
    public bool FillsOffset => _offsetColumn >= 0;

    /// <summary>Appends the message as one row, or returns why it cannot be one (the batch is then unchanged).</summary>
    public string? Decode(ReadOnlySpan<byte> message, ColumnBatch batch) => Decode(message, batch, default);

    /// <summary><see cref="Decode(ReadOnlySpan{byte}, ColumnBatch)"/>, also filling the provenance columns from
    /// <paramref name="source"/>.</summary>
    public string? Decode(ReadOnlySpan<byte> message, ColumnBatch batch, in MessageSource source)
    {
        _row++;
        _field = null;
        if (message.IsEmpty) return "empty message (null or zero-length value)";
        var reader = new Utf8JsonReader(message, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return "message is not a JSON object";
            DecodeObject(ref reader, _root, batch);
            // Only whitespace may follow the object; anything else makes the reader throw.
            reader.Read();
            _field = null;
            if (_topicColumn >= 0) AppendTopic(batch, _topicColumn, source.Topic);
            if (_partitionColumn >= 0) AppendNumber(batch, _partitionColumn, source.Partition);
            if (_offsetColumn >= 0) AppendNumber(batch, _offsetColumn, source.Offset);
            if (_timestampColumn >= 0) AppendNumber(batch, _timestampColumn, source.TimestampMs);
            var columns = batch.Columns;
            for (var i = 0; i < columns.Length; i++)
            {
                // Marked only once the row is whole: a rejected message must not make a DEFAULT column count as given.
                if (_seenInRow[i] == _row) batch.MarkHasValue(i);
                else columns[i].AppendDefault();
            }
            batch.RowAdded(message.Length);
            return null;
        }
        catch (JsonException e)
        {
            batch.RollBackRow();
            return $"malformed JSON: {e.Message}";
        }
        catch (ColumnValueException e)
        {
            batch.RollBackRow();
            return _field is null ? e.Message : $"field '{_field.Path}': {e.Message}";
        }
    }

    // Provenance values go through the column's own JSON parsing (a number or a string token built on the stack),
    // so any integer, String/LowCardinality or DateTime/DateTime64 column takes them, with the same range checks. An
    // integer column in range takes the number as it is: formatting and parsing it again per message and column was
    // ~5 % of the consume thread with _partition and _offset columns.
    private void AppendNumber(ColumnBatch batch, int column, long value)
    {
        if (batch.Columns[column].TryAppendInteger(value))
        {
            _seenInRow[column] = _row;
            return;
        }
        Span<byte> text = stackalloc byte[24];
        value.TryFormat(text, out var length, default, System.Globalization.CultureInfo.InvariantCulture);
        AppendToken(batch, column, text[..length]);
    }

    private void AppendTopic(ColumnBatch batch, int column, string? topic)
    {
        // Kafka topic names are [a-zA-Z0-9._-]{1,249}: nothing to escape.
        Span<byte> text = stackalloc byte[256];
        text[0] = (byte)'"';
        var length = Encoding.UTF8.GetBytes(topic ?? "", text[1..^1]);
        text[length + 1] = (byte)'"';
        AppendToken(batch, column, text[..(length + 2)]);
    }

    private void AppendToken(ColumnBatch batch, int column, ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        reader.Read();
        try
        {
            batch.Columns[column].AppendJson(ref reader);
        }
        catch (ColumnValueException e)
        {
            throw new ColumnValueException($"provenance column '{_names[column]}' cannot hold {Encoding.UTF8.GetString(json)}: {e.Message}");
        }
        _seenInRow[column] = _row;
    }

    private void DecodeObject(ref Utf8JsonReader reader, Node node, ColumnBatch batch)
    {
        var hint = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var child = node.Find(ref reader, ref hint);
            if (child is null && _strict)
            {
                _field = null;
                var prefix = node.Path.Length == 0 ? "" : node.Path + ".";
                throw new ColumnValueException($"unknown field '{prefix}{reader.GetString()}' (strict mapping rejects fields no column takes)");
            }
            reader.Read();
            if (child is null)
            {
                reader.Skip();
                continue;
            }
            _field = child;
            if (child.Column >= 0)
            {
                if (_seenInRow[child.Column] == _row) throw new ColumnValueException($"field '{child.Path}' appears twice");
                batch.Columns[child.Column].AppendJson(ref reader);
                _seenInRow[child.Column] = _row;
            }
            else if (reader.TokenType == JsonTokenType.StartObject)
            {
                DecodeObject(ref reader, child, batch);
            }
            else if (reader.TokenType != JsonTokenType.Null)
            {
                throw new ColumnValueException($"field '{child.Path}' must be an object (columns map into it), got {reader.TokenType}");
            }
        }
    }

    /// <summary>A JSON object level: its fields, each either a column (leaf) or a nested object.</summary>
    private sealed class Node(string name, int column)
    {
        private byte[][] _names = [];
        private Node[] _children = [];

        public string Name { get; } = name;

        public byte[] Utf8Name { get; } = Encoding.UTF8.GetBytes(name);

        public int Column { get; } = column;

        public string Path { get; private set; } = name;

        public List<Node> Children { get; } = [];

        public void Seal(string parentPath = "")
        {
            Path = parentPath.Length == 0 ? Name : $"{parentPath}.{Name}";
            _children = [.. Children];
            _names = [.. Children.Select(c => c.Utf8Name)];
            foreach (var c in _children) c.Seal(Path);
        }

        /// <summary>Looks the current property name up. Producers usually write fields in the same order every
        /// time, so the search starts where the previous field matched: one comparison per field in the common case.</summary>
        public Node? Find(ref Utf8JsonReader reader, ref int hint)
        {
            var n = _names.Length;
            for (var k = 0; k < n; k++)
            {
                var i = hint + k;
                if (i >= n) i -= n;
                if (reader.ValueTextEquals(_names[i]))
                {
                    hint = i + 1 == n ? 0 : i + 1;
                    return _children[i];
                }
            }
            return null;
        }
    }
}

/// <summary>Where a message came from, for the provenance columns (like the Kafka engine's _topic, _partition,
/// _offset, _timestamp).</summary>
internal readonly record struct MessageSource(string? Topic, int Partition, long Offset, long TimestampMs);

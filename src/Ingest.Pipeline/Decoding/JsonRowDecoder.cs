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
    private int _row;
    private Node? _field;

    public JsonRowDecoder(TableSchema schema, MappingOptions mapping)
    {
        _strict = mapping.Strict;
        _seenInRow = new int[schema.Columns.Count];
        _root = new Node("", -1);
        var known = schema.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var column in mapping.Columns.Keys)
        {
            if (!known.Contains(column))
                throw new InvalidOperationException($"Ingest:Mapping:Columns names column '{column}', which {schema.Table} does not have (columns: {string.Join(", ", known)})");
        }
        for (var i = 0; i < schema.Columns.Count; i++)
        {
            var name = schema.Columns[i].Name;
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

    /// <summary>Appends the message as one row, or returns why it cannot be one (the batch is then unchanged).</summary>
    public string? Decode(ReadOnlySpan<byte> message, ColumnBatch batch)
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
            var columns = batch.Columns;
            for (var i = 0; i < columns.Length; i++)
            {
                if (_seenInRow[i] != _row) columns[i].AppendDefault();
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
                batch.MarkHasValue(child.Column);
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

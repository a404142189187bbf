using System.Buffers;
using System.Text;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.ClickHouse.Native;

/// <summary>Writes blocks of ClickHouse's Native format (https://clickhouse.com/docs/interfaces/formats/Native) as
/// accepted by HTTP <c>INSERT ... FORMAT Native</c>: VarUInt column count, VarUInt row count, then per column its
/// name, its type name (both VarUInt length + UTF-8) and its data. Without a client_protocol_version parameter
/// servers neither send nor expect per-column custom-serialization flags, so none are written. Column names and
/// type names are encoded once, here, and reused for every block.</summary>
internal sealed class NativeBlockWriter
{
    private readonly byte[][] _names;
    private readonly byte[][] _typeNames;

    public NativeBlockWriter(IReadOnlyList<string> names, IReadOnlyList<ColumnType> types)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(types);
        if (names.Count != types.Count) throw new ArgumentException($"{names.Count} names but {types.Count} types");
        _names = [.. names.Select(Encoding.UTF8.GetBytes)];
        _typeNames = [.. types.Select(t => Encoding.UTF8.GetBytes(t.Name))];
    }

    public int ColumnCount => _names.Length;

    /// <summary>Writes one block holding every row of <paramref name="columns"/> (in the order of the constructor's
    /// names), which must all have the same <see cref="Column.Count"/>.</summary>
    public void Write(IBufferWriter<byte> writer, ReadOnlySpan<Column> columns)
    {
        WriteHeader(writer, columns);
        for (var i = 0; i < columns.Length; i++) WriteColumn(writer, i, columns[i]);
    }

    /// <summary>Column and row count; follow with <see cref="WriteColumn"/> for each column in order. Split so that a
    /// streaming caller can flush its pipe between columns and hold at most one column's bytes at a time.</summary>
    public void WriteHeader(IBufferWriter<byte> writer, ReadOnlySpan<Column> columns)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (columns.Length != _names.Length) throw new ArgumentException($"expected {_names.Length} columns, got {columns.Length}", nameof(columns));
        var rows = columns.Length == 0 ? 0 : columns[0].Count;
        for (var i = 1; i < columns.Length; i++)
        {
            if (columns[i].Count != rows)
                throw new InvalidOperationException($"column '{Encoding.UTF8.GetString(_names[i])}' has {columns[i].Count} rows, the first column has {rows}");
        }
        NativeWire.WriteVarUInt(writer, (ulong)columns.Length);
        NativeWire.WriteVarUInt(writer, (ulong)rows);
    }

    public void WriteColumn(IBufferWriter<byte> writer, int index, Column column)
    {
        NativeWire.WriteString(writer, _names[index]);
        NativeWire.WriteString(writer, _typeNames[index]);
        column.WriteTo(writer);
    }
}

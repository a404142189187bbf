using System.Buffers;
using System.IO.Pipelines;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Native;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.Batching;

/// <summary>Rows for one table as pooled columns, one per insertable column of the schema. Reused batch after
/// batch: <see cref="Clear"/> keeps the rented buffers.</summary>
internal sealed class ColumnBatch : IDisposable
{
    private readonly bool[] _hasValue;

    public ColumnBatch(TableSchema schema)
    {
        Schema = schema;
        Columns = [.. schema.Columns.Select(c => c.Type.CreateColumn())];
        _hasValue = new bool[Columns.Length];
    }

    public TableSchema Schema { get; }

    public Column[] Columns { get; }

    public int Rows { get; private set; }

    /// <summary>Source bytes of the rows (the size of the messages): the batch's size for flush and memory limits.</summary>
    public long SourceBytes { get; private set; }

    /// <summary>Records that column <paramref name="index"/> got a value from the input in this batch.</summary>
    public void MarkHasValue(int index) => _hasValue[index] = true;

    public void RowAdded(int sourceBytes)
    {
        Rows++;
        SourceBytes += sourceBytes;
    }

    /// <summary>Drops a partly appended row: every column back to <see cref="Rows"/> values.</summary>
    public void RollBackRow()
    {
        foreach (var c in Columns)
        {
            if (c.Count > Rows) c.Truncate(Rows);
        }
    }

    /// <summary>Drops the last complete row (it was decoded into the wrong partition's batch).</summary>
    public void RemoveLastRow(int sourceBytes)
    {
        Rows--;
        SourceBytes -= sourceBytes;
        foreach (var c in Columns) c.Truncate(Rows);
    }

    /// <summary>Writes the rows as one Native block. A DEFAULT-expression column that no row of this batch gave a
    /// value is left out, so the server computes its default expression instead of Ingest writing the type's zero.</summary>
    public void WriteNative(IBufferWriter<byte> writer)
    {
        var (block, columns) = Block();
        block.Write(writer, columns);
    }

    /// <summary><see cref="WriteNative"/> into a pipe, flushed after each column: the request holds one column's
    /// bytes at a time, not the whole block.</summary>
    public async ValueTask WriteNativeAsync(PipeWriter writer)
    {
        var (block, columns) = Block();
        block.WriteHeader(writer, columns);
        for (var i = 0; i < columns.Length; i++)
        {
            block.WriteColumn(writer, i, columns[i]);
            await writer.FlushAsync().ConfigureAwait(false);
        }
    }

    private (NativeBlockWriter Block, Column[] Columns) Block()
    {
        var included = 0;
        for (var i = 0; i < Columns.Length; i++)
        {
            if (Include(i)) included++;
        }
        var names = new string[included];
        var types = new ColumnType[included];
        var columns = new Column[included];
        for (int i = 0, j = 0; i < Columns.Length; i++)
        {
            if (!Include(i)) continue;
            names[j] = Schema.Columns[i].Name;
            types[j] = Schema.Columns[i].Type;
            columns[j++] = Columns[i];
        }
        return (new NativeBlockWriter(names, types), columns);
    }

    private bool Include(int i) => _hasValue[i] || Schema.Columns[i].Default != DefaultKind.Default;

    public void Clear()
    {
        foreach (var c in Columns) c.Clear();
        Array.Clear(_hasValue);
        Rows = 0;
        SourceBytes = 0;
    }

    public void Dispose()
    {
        foreach (var c in Columns) c.Dispose();
    }
}

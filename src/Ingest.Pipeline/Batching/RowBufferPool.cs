namespace Ingest.Pipeline.Batching;

/// <summary>Reused row buffers of one target table: a buffer's pooled columns are kept across batches. Buffers hold
/// the columns of the schema they were made for; after a schema change only buffers of the current one come back.</summary>
internal sealed class RowBufferPool : IDisposable
{
    private readonly Stack<IRowBuffer> _free = new();
    private Func<IRowBuffer> _create;
    private object? _generation;

    /// <param name="create">Makes a buffer for the current schema.</param>
    /// <param name="generation">Identifies that schema (a buffer made for another is disposed on return).</param>
    public RowBufferPool(Func<IRowBuffer> create, object? generation)
    {
        _create = create;
        _generation = generation;
    }

    /// <summary>From now on buffers are made by <paramref name="create"/>; free ones of the old schema are dropped.</summary>
    public void Reset(Func<IRowBuffer> create, object? generation)
    {
        _create = create;
        _generation = generation;
        while (_free.TryPop(out var b)) b.Dispose();
    }

    public IRowBuffer Rent() => _free.TryPop(out var b) ? b : _create();

    public void Return(IRowBuffer buffer)
    {
        buffer.Clear();
        if (buffer is NativeRowBuffer native && !ReferenceEquals(native.Columns.Schema, _generation)) buffer.Dispose();
        else _free.Push(buffer);
    }

    public void Dispose()
    {
        while (_free.TryPop(out var b)) b.Dispose();
    }
}

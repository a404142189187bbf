using System.Buffers;
using System.Text.Json;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>One column of a batch, growing as rows are appended and serialized in ClickHouse's Native layout.
/// Buffers are rented from the array pool; <see cref="Clear"/> keeps them for the next batch.</summary>
internal abstract class Column : IDisposable
{
    public abstract int Count { get; }

    /// <summary>Appends the value the reader is positioned on (for arrays/objects the reader is left on the matching
    /// End token). On bad input throws <see cref="ColumnValueException"/> and leaves the column as it was; the reader's
    /// position is then unspecified. JSON null in a non-Nullable column appends the type's default, as ClickHouse does
    /// with its default input_format_null_as_default=1.</summary>
    public abstract void AppendJson(ref Utf8JsonReader reader);

    public abstract void AppendDefault();

    /// <summary>Integer columns: appends <paramref name="value"/> when it is in the type's range and says so; every
    /// other type, or a value out of range, false and nothing appended (the caller then goes through
    /// <see cref="AppendJson"/>, which words the error). For provenance values, which are numbers already.</summary>
    public virtual bool TryAppendInteger(long value) => false;

    /// <summary>Column data only (the block writer writes name and type): state prefix, then the data.</summary>
    public void WriteTo(IBufferWriter<byte> writer)
    {
        WritePrefix(writer);
        WriteData(writer);
    }

    /// <summary>Drops rows from the end so that <paramref name="count"/> remain; used to roll back nested values.</summary>
    public abstract void Truncate(int count);

    public void RemoveLast()
    {
        if (Count == 0) throw new InvalidOperationException("column is empty");
        Truncate(Count - 1);
    }

    public abstract void Clear();

    public abstract void Dispose();

    /// <summary>ClickHouse writes every serialization state prefix of a column (e.g. LowCardinality's keys version)
    /// before any of its data, including prefixes of nested columns, so containers forward this to their children.</summary>
    internal virtual void WritePrefix(IBufferWriter<byte> writer)
    {
    }

    internal abstract void WriteData(IBufferWriter<byte> writer);
}

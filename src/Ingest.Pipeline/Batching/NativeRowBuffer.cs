using System.Buffers;
using System.IO.Pipelines;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline.Batching;

/// <summary>Messages decoded into pooled columns and sent as one ClickHouse Native block.</summary>
internal sealed class NativeRowBuffer(ColumnBatch columns, JsonRowDecoder decoder) : IRowBuffer
{
    public string Format => "Native";

    public ColumnBatch Columns => columns;

    public int Rows => columns.Rows;

    public long SourceBytes => columns.SourceBytes;

    public string? Add(ReadOnlySpan<byte> message, in MessageSource source) => decoder.Decode(message, columns, source);

    public ValueTask WriteToAsync(PipeWriter writer) => columns.WriteNativeAsync(writer);

    public void WriteTo(IBufferWriter<byte> writer) => columns.WriteNative(writer);

    public void Clear() => columns.Clear();

    public void Dispose() => columns.Dispose();
}

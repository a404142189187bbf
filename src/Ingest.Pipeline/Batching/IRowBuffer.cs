using System.Buffers;
using System.IO.Pipelines;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline.Batching;

/// <summary>The rows of one batch, held in the format they will be inserted in.</summary>
internal interface IRowBuffer : IDisposable
{
    /// <summary>ClickHouse input format name for <c>INSERT ... FORMAT</c>.</summary>
    string Format { get; }

    int Rows { get; }

    /// <summary>Bytes of the messages taken: the batch's size for flush and memory limits.</summary>
    long SourceBytes { get; }

    /// <summary>Adds one message as one row; returns null, or why the message cannot be a row (then nothing was added).</summary>
    string? Add(ReadOnlySpan<byte> message, in MessageSource source);

    /// <summary>Writes the rows in <see cref="Format"/> into the request pipe, flushing as it goes; called again for a
    /// retry, it writes the same bytes.</summary>
    ValueTask WriteToAsync(PipeWriter writer);

    /// <summary>Writes the whole body at once (benchmarks, body-size reports); the same bytes as <see cref="WriteToAsync"/>.</summary>
    void WriteTo(IBufferWriter<byte> writer);

    void Clear();
}

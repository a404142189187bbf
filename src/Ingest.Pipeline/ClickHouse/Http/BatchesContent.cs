using System.IO.Compression;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>The body of one INSERT: the rows of several partition batches, one after the other (in Native, one
/// block each), written through a <see cref="PipeWriter"/> straight into the request stream and flushed after each
/// column, so the body is never laid out as one array (chunked transfer encoding, accepted by 18.16 and current
/// servers). ClickHouse squashes the blocks of one INSERT (min_insert_block_size_rows) into one part, which keeps
/// the part count down when many partitions flush at once. With gzip the stream is compressed on the way
/// (Content-Encoding: gzip; 18.16 accepts gzip but refuses zstd, code 89).</summary>
internal sealed class BatchesContent : HttpContent
{
    private readonly IReadOnlyList<PartitionBatch> _batches;
    private readonly bool _gzip;

    public BatchesContent(IReadOnlyList<PartitionBatch> batches, bool gzip)
    {
        _batches = batches;
        _gzip = gzip;
        Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (gzip) Headers.ContentEncoding.Add("gzip");
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var target = _gzip ? new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true) : stream;
        try
        {
            var writer = PipeWriter.Create(target, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
            foreach (var batch in _batches)
            {
                await batch.Rows.WriteToAsync(writer).ConfigureAwait(false);
                await writer.FlushAsync().ConfigureAwait(false);
            }
            await writer.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            if (_gzip) await target.DisposeAsync().ConfigureAwait(false);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

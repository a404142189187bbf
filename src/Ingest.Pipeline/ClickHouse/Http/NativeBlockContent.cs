using System.IO.Compression;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>An INSERT body that writes the batch's Native block through a <see cref="PipeWriter"/> straight into the
/// request stream (chunked transfer encoding, accepted by 18.16 and current servers): the block is never laid out
/// as one byte array. With gzip the stream is compressed on the way (Content-Encoding: gzip; ClickHouse 18.16
/// accepts gzip but refuses zstd, code 89).</summary>
internal sealed class NativeBlockContent : HttpContent
{
    private readonly ColumnBatch _batch;
    private readonly bool _gzip;

    public NativeBlockContent(ColumnBatch batch, bool gzip)
    {
        _batch = batch;
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
            _batch.WriteNative(writer);
            await writer.FlushAsync().ConfigureAwait(false);
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

/// <summary>Gzips another content on the way out (Content-Encoding: gzip).</summary>
internal sealed class GzipContent : HttpContent
{
    private readonly HttpContent _inner;

    public GzipContent(HttpContent inner)
    {
        _inner = inner;
        Headers.ContentType = inner.Headers.ContentType;
        Headers.ContentEncoding.Add("gzip");
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        await using var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
        await _inner.CopyToAsync(gzip).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}

using System.Security.Cryptography.X509Certificates;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>Pins a handler's https to given CA certificates (<see cref="ClickHouseHttpClient.TrustOnly"/>) and keeps why
/// the last handshake was refused: the platform's own exception only says "see inner exception" or that the callback
/// rejected the certificate, and retry warnings log the message alone. One per handler (ClickHouse, clickhouse-backup).</summary>
internal sealed class CaPinning
{
    /// <summary>Null once a certificate passed.</summary>
    private string? _rejection;

    /// <summary>Nothing to do without certificates: the system trust store applies.</summary>
    public void Apply(SocketsHttpHandler handler, X509Certificate2Collection? caCertificates)
    {
        if (caCertificates is { Count: > 0 })
            handler.SslOptions.RemoteCertificateValidationCallback = ClickHouseHttpClient.TrustOnly(caCertificates, why => Volatile.Write(ref _rejection, why));
    }

    /// <summary>A handshake failure saying why, about <paramref name="peer"/>. Still an HttpRequestException of the same
    /// kind: retried like any connection failure (a certificate may be mid-rotation).</summary>
    public HttpRequestException Explain(HttpRequestException e, string peer)
    {
        var why = Volatile.Read(ref _rejection) ?? e.InnerException?.Message ?? e.Message;
        return new HttpRequestException(HttpRequestError.SecureConnectionError, $"TLS handshake with {peer} failed: {why}", e);
    }
}

using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>ClickHouse over its HTTP interface (https://clickhouse.com/docs/interfaces/http): queries in the
/// POST body, INSERT data as a streamed body with the statement in the URL, settings as URL parameters.</summary>
public sealed class ClickHouseHttpClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AuthenticationHeaderValue? _auth;

    private readonly CaPinning _pinning = new();

    /// <summary><paramref name="caCertificates"/>, for https: trust only these CA certificates (a private CA, a
    /// self-signed server) instead of the system store; the host name is still checked. They are not owned: the
    /// caller disposes them after the client. Null: the system trust store.</summary>
    public ClickHouseHttpClient(Uri endpoint, string? user = null, string? password = null, TimeSpan? timeout = null, HttpClient? http = null,
        X509Certificate2Collection? caCertificates = null)
    {
        if (http is not null && caCertificates is not null)
            throw new ArgumentException("caCertificates apply to the client's own handler; configure the given HttpClient's handler instead", nameof(caCertificates));
        Endpoint = endpoint;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient(CreateHandler(caCertificates))
        {
            Timeout = timeout ?? TimeSpan.FromSeconds(60),
        };
        if (!string.IsNullOrEmpty(user))
            _auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    public Uri Endpoint { get; }

    /// <summary>The first of <paramref name="clients"/> that answers <c>SELECT 1</c>, tried in order; when none does,
    /// the exception <paramref name="none"/> builds from every endpoint's error ("endpoint: error; ...").</summary>
    internal static async Task<ClickHouseHttpClient> FirstAnsweringAsync(IEnumerable<ClickHouseHttpClient> clients, Func<string, Exception> none, CancellationToken ct)
    {
        var errors = new List<string>();
        foreach (var client in clients)
        {
            try
            {
                await client.QueryAsync("SELECT 1", null, ct).ConfigureAwait(false);
                return client;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                errors.Add($"{client.Endpoint}: {e.Message}");
            }
        }
        throw none(string.Join("; ", errors));
    }

    private SocketsHttpHandler CreateHandler(X509Certificate2Collection? caCertificates)
    {
        var handler = new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2) };
        _pinning.Apply(handler, caCertificates);
        return handler;
    }

    /// <summary>Accepts a server certificate only if it chains to one of <paramref name="roots"/> and names the
    /// host. The system store is not consulted: setting a CA pins the endpoints to it. <paramref name="verdict"/>
    /// hears why a certificate was refused, or null when one was accepted.</summary>
    internal static RemoteCertificateValidationCallback TrustOnly(X509Certificate2Collection roots, Action<string?>? verdict = null)
    {
        return (_, certificate, chain, errors) =>
        {
            // The platform's host name check stands whoever signed the certificate: a CA's certificate for another
            // host must not pass. Only its chain verdict (made against the system store) is redone below.
            if (certificate is not X509Certificate2 leaf || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
                return Refuse("the server sent no certificate");
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                return Refuse($"its certificate ({leaf.Subject}) does not name the host of the endpoint");
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(roots);
            // Intermediates the server sent along.
            if (chain is not null) custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
            // Private CAs rarely publish revocation lists; SslStream does not check revocation by default either.
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (custom.Build(leaf))
            {
                verdict?.Invoke(null);
                return true;
            }
            return Refuse($"its certificate ({leaf.Subject}, issued by {leaf.Issuer}) does not chain to the configured CA certificate(s): " +
                string.Join(", ", custom.ChainStatus.Select(s => s.Status)));
        };

        bool Refuse(string why)
        {
            verdict?.Invoke(why);
            return false;
        }
    }

    /// <summary>Runs a statement and returns its whole text answer (use FORMAT TSV etc. in the SQL).</summary>
    public async Task<string> QueryAsync(string sql, IReadOnlyDictionary<string, string>? settings = null, CancellationToken ct = default)
    {
        using var response = await SendAsync(BuildUri(null, settings), new StringContent(sql, Encoding.UTF8), ct).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Runs a statement and returns its raw bytes (e.g. FORMAT Native).</summary>
    public async Task<byte[]> QueryBytesAsync(string sql, IReadOnlyDictionary<string, string>? settings = null, CancellationToken ct = default)
    {
        using var response = await SendAsync(BuildUri(null, settings), new StringContent(sql, Encoding.UTF8), ct).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
    }

    public Task ExecuteAsync(string sql, IReadOnlyDictionary<string, string>? settings = null, CancellationToken ct = default)
        => QueryAsync(sql, settings, ct);

    /// <summary>First column of the first row, or null when there is no row.</summary>
    public async Task<string?> ScalarAsync(string sql, CancellationToken ct = default)
    {
        var text = await QueryAsync(sql + " FORMAT TSV", null, ct).ConfigureAwait(false);
        if (text.Length == 0) return null;
        var end = text.IndexOfAny(['\t', '\n']);
        return end < 0 ? text : text[..end];
    }

    /// <summary>Sends <paramref name="body"/> as the data of <c>INSERT INTO {table} FORMAT {format}</c>.</summary>
    public async Task InsertAsync(string table, string format, HttpContent body, IReadOnlyDictionary<string, string>? settings = null, CancellationToken ct = default)
    {
        using var response = await SendAsync(BuildUri($"INSERT INTO {table} FORMAT {format}", settings), body, ct).ConfigureAwait(false);
    }

    private Uri BuildUri(string? query, IReadOnlyDictionary<string, string>? settings)
    {
        var sb = new StringBuilder(Endpoint.GetLeftPart(UriPartial.Path));
        var sep = '?';
        if (!string.IsNullOrEmpty(Endpoint.Query))
        {
            sb.Append(Endpoint.Query);
            sep = '&';
        }
        if (query is not null)
        {
            sb.Append(sep).Append("query=").Append(Uri.EscapeDataString(query));
            sep = '&';
        }
        if (settings is not null)
        {
            foreach (var (k, v) in settings)
            {
                sb.Append(sep).Append(Uri.EscapeDataString(k)).Append('=').Append(Uri.EscapeDataString(v));
                sep = '&';
            }
        }
        return new Uri(sb.ToString());
    }

    private async Task<HttpResponseMessage> SendAsync(Uri uri, HttpContent content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        request.Headers.Authorization = _auth;
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw _pinning.Explain(e, Endpoint.Authority);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            var header = response.Headers.TryGetValues("X-ClickHouse-Exception-Code", out var values) ? values.FirstOrDefault() : null;
            throw ClickHouseServerException.Parse(response.StatusCode, header, body);
        }
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }
}

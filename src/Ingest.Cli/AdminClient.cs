using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ingest.Pipeline.Control;

namespace Ingest.Cli;

/// <summary>Calls one admin endpoint on a worker and sorts the outcome into what the exit codes distinguish: an answer,
/// an error the worker answered, a refused token, or no answer at all.</summary>
internal sealed class AdminClient(HttpClient http, string token)
{
    public static HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) }) { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<WorkerReport<T>> SendAsync<T>(Uri worker, HttpMethod method, string path, HttpContent? body,
        JsonTypeInfo<T> answerType, TimeSpan timeout, CancellationToken ct)
        where T : class
    {
        var name = Targets.Name(worker);
        using var request = new HttpRequestMessage(method, new Uri(worker, path)) { Content = body };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, deadline.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(deadline.Token).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            if (code is 401 or 403)
                return new(name, WorkerOutcome.Unauthorized, code, $"refused the token ({code})", null);
            if (!response.IsSuccessStatusCode)
                return new(name, WorkerOutcome.Error, code, $"answered {code}: {Detail(bytes, response)}{Hint(code, path)}", null);
            try
            {
                if (JsonSerializer.Deserialize(bytes, answerType) is { } answer)
                    return new(name, WorkerOutcome.Ok, code, null, answer);
            }
            catch (JsonException e)
            {
                return new(name, WorkerOutcome.Error, code, $"answered {code} with a body that is not the admin API's /{path} document ({e.Message}){Hint(404, path)}", null);
            }
            return new(name, WorkerOutcome.Error, code, $"answered {code} with an empty /{path} document", null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new(name, WorkerOutcome.Unreachable, null, $"unreachable: no answer within {ControlTimeout.Format(timeout)}", null);
        }
        catch (HttpRequestException e)
        {
            return new(name, WorkerOutcome.Unreachable, null, $"unreachable: {Describe(e)}", null);
        }
    }

    /// <summary>A problem document's detail, else the start of whatever the body is, else the status's reason phrase.</summary>
    private static string Detail(byte[] body, HttpResponseMessage response)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, ControlJsonContext.Default.ControlProblem) is { Detail.Length: > 0 } problem) return problem.Detail;
        }
        catch (JsonException)
        {
            // Not from the admin API (a proxy, the health port): show what it said instead.
        }
        var text = System.Text.Encoding.UTF8.GetString(body).ReplaceLineEndings(" ").Trim();
        return text.Length > 0 ? text.Length > 200 ? text[..200] + "..." : text : response.ReasonPhrase ?? "no detail";
    }

    private static string Hint(int code, string path) =>
        code == 404 ? $" (no /{path} here: is this the worker's admin address, Ingest:Admin:Url, and is its admin token configured?)" : "";

    private static string Describe(HttpRequestException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException s)
            {
                return s.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused",
                    SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "host not found",
                    SocketError.TimedOut => "connection timed out",
                    SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
                    SocketError.ConnectionReset => "connection reset",
                    _ => s.Message,
                };
            }
        }
        return e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "host not found",
            HttpRequestError.SecureConnectionError => $"TLS handshake failed ({e.InnerException?.Message ?? e.Message})",
            _ => e.Message,
        };
    }
}

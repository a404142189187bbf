using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Ingest.Pipeline.Control;

/// <summary>One request to a worker's admin API under a deadline of its own: the transport of the <c>ingest</c> CLI and
/// of a worker calling its region's other workers. It ends with the worker's answer (any status) or with
/// <see cref="AdminUnreachableException"/> when none came; each caller decides what a status means to it.</summary>
public static class AdminCall
{
    public static async Task<AdminAnswer> SendAsync(HttpClient http, HttpMethod method, Uri url, HttpContent? body,
        AuthenticationHeaderValue authorization, TimeSpan timeout, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url) { Content = body };
        request.Headers.Authorization = authorization;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, deadline.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(deadline.Token).ConfigureAwait(false);
            return new AdminAnswer((int)response.StatusCode, bytes, response.ReasonPhrase);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new AdminUnreachableException($"no answer within {ControlTimeout.Format(timeout)}");
        }
        catch (HttpRequestException e)
        {
            throw new AdminUnreachableException(Describe(e), e);
        }
    }

    /// <summary>What an operator acts on, not the socket's wording ("connection refused": nothing listens there).</summary>
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

/// <summary>A worker's answer: its status and body, read in full.</summary>
public sealed record AdminAnswer(int Status, byte[] Body, string? ReasonPhrase)
{
    public bool IsSuccess => Status is >= 200 and <= 299;

    /// <summary>The problem document's detail, else the start of whatever the body is (a proxy's page, the health
    /// port's text), else the status's reason phrase.</summary>
    public string Detail()
    {
        try
        {
            if (JsonSerializer.Deserialize(Body, ControlJsonContext.Default.ControlProblem) is { Detail.Length: > 0 } problem) return problem.Detail;
        }
        catch (JsonException)
        {
            // Not from the admin API: show what it said instead.
        }
        var text = Encoding.UTF8.GetString(Body).ReplaceLineEndings(" ").Trim();
        return text.Length > 0 ? text.Length > 200 ? text[..200] + "..." : text : ReasonPhrase ?? "no detail";
    }
}

/// <summary>No answer from a worker's admin API: nothing listening, no route, or not within the call's deadline.</summary>
public sealed class AdminUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

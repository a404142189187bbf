using System.Net.Http.Headers;
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
        AdminAnswer answer;
        try
        {
            answer = await AdminCall.SendAsync(http, method, new Uri(worker, path), body, new AuthenticationHeaderValue("Bearer", token), timeout, ct)
                .ConfigureAwait(false);
        }
        catch (AdminUnreachableException e)
        {
            return new(name, WorkerOutcome.Unreachable, null, $"unreachable: {e.Message}", null);
        }
        var code = answer.Status;
        if (code is 401 or 403)
            return new(name, WorkerOutcome.Unauthorized, code, $"refused the token ({code})", null);
        if (!answer.IsSuccess)
            return new(name, WorkerOutcome.Error, code, $"answered {code}: {answer.Detail()}{Hint(code, path)}", null);
        try
        {
            if (JsonSerializer.Deserialize(answer.Body, answerType) is { } document)
                return new(name, WorkerOutcome.Ok, code, null, document);
        }
        catch (JsonException e)
        {
            return new(name, WorkerOutcome.Error, code, $"answered {code} with a body that is not the admin API's /{path} document ({e.Message}){Hint(404, path)}", null);
        }
        return new(name, WorkerOutcome.Error, code, $"answered {code} with an empty /{path} document", null);
    }

    private static string Hint(int code, string path) =>
        code == 404 ? $" (no /{path} here: is this the worker's admin address, Ingest:Admin:Url, and is its admin token configured?)" : "";
}

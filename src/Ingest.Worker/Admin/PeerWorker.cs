using System.Net.Http.Headers;
using System.Text.Json;
using Ingest.Pipeline.Backup;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Admin;

/// <summary>Another worker of the region, reached through its admin API with the caller's own bearer token (a
/// region's workers share the token; a peer that refuses it fails the backup point with a 401 named here).</summary>
internal sealed class PeerWorker(HttpClient http, Uri url, AuthenticationHeaderValue authorization) : IBackupParticipant
{
    public string Name { get; } = url.ToString().TrimEnd('/');

    public Task PauseAsync(CancellationToken ct) =>
        SendAsync("pause", JsonContent.Create(new PauseRequest(Reason: "backup"), ControlJsonContext.Default.PauseRequest), TimeSpan.FromSeconds(30), ct);

    public async Task<FlushResult> FlushAsync(TimeSpan timeout, CancellationToken ct)
    {
        var body = JsonContent.Create(new FlushRequest(Timeout: ControlTimeout.Format(timeout)), ControlJsonContext.Default.FlushRequest);
        // The peer answers 504 itself at its deadline; a little more here so that answer arrives.
        var bytes = await SendAsync("flush", body, timeout + TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
        return JsonSerializer.Deserialize(bytes, ControlJsonContext.Default.FlushResult)
            ?? throw new InvalidOperationException($"{Name}: /flush answered an empty document");
    }

    public Task ResumeAsync(CancellationToken ct) =>
        SendAsync("resume", JsonContent.Create(new PauseRequest(Reason: "backup"), ControlJsonContext.Default.PauseRequest), TimeSpan.FromSeconds(30), ct);

    private async Task<byte[]> SendAsync(string path, HttpContent body, TimeSpan timeout, CancellationToken ct)
    {
        AdminAnswer answer;
        try
        {
            answer = await AdminCall.SendAsync(http, HttpMethod.Post, new Uri(url, path), body, authorization, timeout, ct).ConfigureAwait(false);
        }
        catch (AdminUnreachableException e)
        {
            throw new InvalidOperationException($"{Name}: /{path} unreachable: {e.Message}", e);
        }
        return answer.IsSuccess ? answer.Body : throw new InvalidOperationException($"{Name}: /{path} answered {answer.Status}: {answer.Detail()}");
    }
}

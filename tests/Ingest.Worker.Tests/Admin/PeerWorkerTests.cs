using System.Net.Http.Headers;
using Ingest.Pipeline.Control;
using Ingest.Worker.Admin;

namespace Ingest.Worker.Tests.Admin;

/// <summary>A worker's backup coordinator calling another worker of its region through that worker's real admin API
/// (a fake pipeline behind it): each way a peer can fail is an error naming the peer and the step.</summary>
public sealed class PeerWorkerTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new();
    private AdminServer _server = null!;

    public async Task InitializeAsync() => _server = await AdminServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Pause_flush_and_resume_reach_the_peers_pipeline_with_reason_backup()
    {
        var peer = new PeerWorker(Http, _server.Url, new AuthenticationHeaderValue("Bearer", AdminServer.Token));
        await peer.PauseAsync(CancellationToken.None);
        var flushed = await peer.FlushAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        await peer.ResumeAsync(CancellationToken.None);
        Assert.Equal(["events[0]@120", "events[1]@42", "clicks[0]@0"], flushed.Positions.Select(p => $"{p.Topic}[{p.Partition}]@{p.Committed}"));
        Assert.Equal(["pause backup", "flush ", "resume backup"], _server.Control.Calls.Select(c => $"{c.Verb} {(c.Reason is { } r ? r.Name() : "")}"));
    }

    [Fact]
    public async Task A_peer_that_refuses_the_token_is_named_with_its_answer()
    {
        var peer = new PeerWorker(Http, _server.Url, new AuthenticationHeaderValue("Bearer", "not-the-token"));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => peer.PauseAsync(CancellationToken.None));
        Assert.StartsWith($"{_server.Name}: /pause answered 401: ", e.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    [Fact]
    public async Task A_peer_nothing_listens_for_is_unreachable_with_the_reason()
    {
        var closed = new Uri($"http://127.0.0.1:{AdminServer.FreePort()}/");
        var peer = new PeerWorker(Http, closed, new AuthenticationHeaderValue("Bearer", AdminServer.Token));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => peer.PauseAsync(CancellationToken.None));
        Assert.Equal($"{closed.ToString().TrimEnd('/')}: /pause unreachable: connection refused", e.Message);
    }

    [Fact]
    public async Task A_flush_the_peer_cannot_finish_is_its_own_504_not_a_local_timeout()
    {
        _server.Control.FlushDelay = TimeSpan.FromSeconds(30);
        var peer = new PeerWorker(Http, _server.Url, new AuthenticationHeaderValue("Bearer", AdminServer.Token));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => peer.FlushAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.StartsWith($"{_server.Name}: /flush answered 504: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("did not finish within 300ms", e.Message, StringComparison.Ordinal);
    }
}

using System.Net;
using System.Net.Sockets;

namespace Ingest.Worker.Tests.Admin;

/// <summary>Secure by default: without a token nothing listens on the admin address, and the log says why.</summary>
public sealed class NoTokenTests
{
    [Fact]
    public async Task Without_a_token_the_admin_address_is_closed_and_the_log_says_how_to_open_it()
    {
        await using var server = await AdminServer.StartAsync(token: null);
        using var http = new HttpClient();
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri(server.Url, "status")));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(server.OtherUrl, "status"))).StatusCode);
        Assert.Contains(server.Log.Lines, l => l.StartsWith("Warning: Admin API off: no Ingest:Admin:Token or Ingest:Admin:TokenFile configured", StringComparison.Ordinal));
    }
}

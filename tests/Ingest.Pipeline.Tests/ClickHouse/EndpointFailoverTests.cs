using System.Net;
using System.Text;
using Ingest.Pipeline.Metrics;
using Ingest.Pipeline.Targets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Tests.ClickHouse;

/// <summary>Which endpoint a retried request goes to. A replica that answered an error gets the resend (it holds the
/// block if it landed; another replica would call the same block "deduplicated" without holding its rows); only one that
/// did not answer is left for the next.</summary>
public sealed class EndpointFailoverTests
{
    [Fact]
    public async Task A_replica_that_answered_an_error_gets_the_resend_not_the_next_endpoint()
    {
        // 286 twice ("another quorum insert has been already started"), then the answer.
        await using var first = FakeClickHouse.Start(failures: 2, code: 286);
        await using var second = FakeClickHouse.Start(failures: 0, code: 0);
        var target = new ClickHouseTarget(new ClickHouseOptions { Endpoints = [first.Url.ToString(), second.Url.ToString()], Table = "db.t" }, NullLogger.Instance, new IngestMetrics());

        var answer = await target.QueryAsync("SELECT 1", CancellationToken.None);

        Assert.Equal("first\n", answer);
        Assert.Equal(3, first.Requests);
        Assert.Equal(0, second.Requests);
    }

    [Fact]
    public async Task An_endpoint_that_does_not_answer_is_left_for_the_next()
    {
        await using var second = FakeClickHouse.Start(failures: 0, code: 0, name: "second");
        var closed = new Uri($"http://127.0.0.1:{FakeClickHouse.ClosedPort()}/");
        var target = new ClickHouseTarget(new ClickHouseOptions { Endpoints = [closed.ToString(), second.Url.ToString()], Table = "db.t" }, NullLogger.Instance, new IngestMetrics());

        Assert.Equal("second\n", await target.QueryAsync("SELECT 1", CancellationToken.None));
        Assert.Equal("second\n", await target.QueryAsync("SELECT 1", CancellationToken.None));
        Assert.Equal(2, second.Requests);
    }

    /// <summary>Answers the first <c>failures</c> requests with ClickHouse 18.16's error form, then its name.</summary>
    private sealed class FakeClickHouse : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Task _loop;
        private int _requests;

        private FakeClickHouse(HttpListener listener, Uri url, int failures, int code, string name)
        {
            _listener = listener;
            Url = url;
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception) when (!_listener.IsListening)
                    {
                        return;
                    }
                    var n = Interlocked.Increment(ref _requests);
                    var failing = n <= failures;
                    context.Response.StatusCode = failing ? 500 : 200;
                    if (failing) context.Response.Headers["X-ClickHouse-Exception-Code"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var body = Encoding.UTF8.GetBytes(failing ? $"Code: {code}, e.displayText() = DB::Exception: Another quorum insert has been already started\n" : name + "\n");
                    await context.Response.OutputStream.WriteAsync(body);
                    context.Response.Close();
                }
            });
        }

        public Uri Url { get; }

        public int Requests => Volatile.Read(ref _requests);

        public static FakeClickHouse Start(int failures, int code, string name = "first")
        {
            while (true)
            {
                var url = new Uri($"http://127.0.0.1:{ClosedPort()}/");
                var listener = new HttpListener();
                listener.Prefixes.Add(url.ToString());
                try
                {
                    listener.Start();
                    return new FakeClickHouse(listener, url, failures, code, name);
                }
                catch (HttpListenerException)
                {
                    listener.Close();
                }
            }
        }

        /// <summary>A loopback port below the ephemeral range that nothing listens on now.</summary>
        public static int ClosedPort()
        {
            while (true)
            {
                var port = 20000 + Random.Shared.Next(0, 12000);
                try
                {
                    using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                    return port;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // Taken: another.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}

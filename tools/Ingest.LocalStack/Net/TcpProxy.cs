using System.Net;
using System.Net.Sockets;

namespace Ingest.LocalStack.Net;

/// <summary>A loopback TCP forwarder in front of a server, for fault tests: <see cref="CutAll"/> resets every open
/// connection at once, whatever it is doing (sending a request body, waiting for the answer, reading it), which is
/// how a network cut looks to the client.</summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<(TcpClient Client, TcpClient Server)> _open = [];
    private readonly Task _accepting;

    public TcpProxy(int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Connections reset so far.</summary>
    public int Cuts { get; private set; }

    public Uri HttpEndpoint => new($"http://127.0.0.1:{Port}/");

    /// <summary>Resets (RST, not FIN) every connection open now; new ones are accepted as before.</summary>
    public int CutAll()
    {
        List<(TcpClient Client, TcpClient Server)> open;
        lock (_lock)
        {
            open = [.. _open];
            _open.Clear();
        }
        foreach (var (client, server) in open)
        {
            Reset(client);
            Reset(server);
        }
        Cuts += open.Count;
        return open.Count;
    }

    private static void Reset(TcpClient c)
    {
        try
        {
            // Linger 0: close sends RST, as a dropped network path or a killed peer would look.
            if (c.Client is { } socket) socket.LingerState = new LingerOption(true, 0);
            c.Close();
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        var server = new TcpClient();
        try
        {
            await server.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            Reset(client);
            server.Dispose();
            return;
        }
        var pair = (client, server);
        lock (_lock) _open.Add(pair);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = Pump(client.GetStream(), server.GetStream(), linked);
            var down = Pump(server.GetStream(), client.GetStream(), linked);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A cut or a closed side ends the pair; both sockets are closed below.
        }
        finally
        {
            lock (_lock) _open.Remove(pair);
            client.Dispose();
            server.Dispose();
        }
    }

    /// <summary>Copies one direction until its end, then half-closes the other side (the answer may still come
    /// back); a failure on either side ends both directions.</summary>
    private static async Task Pump(NetworkStream from, NetworkStream to, CancellationTokenSource pair)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, pair.Token).ConfigureAwait(false)) > 0)
                await to.WriteAsync(buffer.AsMemory(0, n), pair.Token).ConfigureAwait(false);
            to.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception)
        {
            await pair.CancelAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        CutAll();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }
}

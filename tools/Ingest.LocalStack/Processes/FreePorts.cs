using System.Net;
using System.Net.Sockets;

namespace Ingest.LocalStack.Processes;

/// <summary>Loopback ports for services. Taken from 20000-32000, below Linux's ephemeral range (32768+), so an
/// outgoing connection's source port never lands on a port a service is about to bind.</summary>
public static class FreePorts
{
    private static readonly HashSet<int> Given = [];
    private static int _next = 20000 + Random.Shared.Next(0, 10000);

    public static int Next()
    {
        lock (Given)
        {
            for (var tries = 0; tries < 12000; tries++)
            {
                var port = _next++;
                if (_next >= 32000) _next = 20000;
                if (Given.Contains(port) || !IsFree(port)) continue;
                Given.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException("no free loopback port in 20000-32000");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

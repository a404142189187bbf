using System.Net;
using System.Net.Sockets;
using Ingest.Pipeline.Control;
using Ingest.Worker.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ingest.Worker.Tests;

/// <summary>The admin API as the worker maps it, on a real Kestrel with two loopback ports (admin and <c>Urls</c>), in
/// front of a fake pipeline.</summary>
internal sealed class AdminServer(WebApplication app, FakePipelineControl control, Uri url, Uri otherUrl, LogLines log) : IAsyncDisposable
{
    public const string Token = "s3cret-admin-token";

    public FakePipelineControl Control => control;

    /// <summary>The admin address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Url => url;

    /// <summary>The <c>Urls</c> address (health and metrics in the worker).</summary>
    public Uri OtherUrl => otherUrl;

    public string Name => Url.ToString().TrimEnd('/');

    public LogLines Log => log;

    public static async Task<AdminServer> StartAsync(FakePipelineControl? control = null, string? token = Token, Pipeline.IngestOptions? options = null)
    {
        control ??= new FakePipelineControl();
        var (adminPort, otherPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:{otherPort}",
            ["Ingest:Admin:Url"] = $"http://127.0.0.1:{adminPort}",
            ["Ingest:Admin:Token"] = token,
        });
        var log = new LogLines();
        builder.Logging.ClearProviders().AddProvider(log);
        builder.AddAdminApi(AdminSettings.Load(builder.Configuration));
        builder.Services.AddSingleton<IPipelineControl>(control);
        builder.Services.AddSingleton(options ?? new Pipeline.IngestOptions { Region = "a" });
        var app = builder.Build();
        app.MapAdminApi();
        app.MapGet("/health/live", () => "ok");
        await app.StartAsync();
        return new AdminServer(app, control, new Uri($"http://127.0.0.1:{adminPort}/"), new Uri($"http://127.0.0.1:{otherPort}/"), log);
    }

    private static int _nextPort = 20000 + Random.Shared.Next(0, 10000);

    /// <summary>A loopback port nothing listens on right now and that this process has not handed out before. Taken below
    /// Linux's ephemeral range (32768+), where the kernel's own choices for port 0 and outgoing connections land, and
    /// never twice: the kernel readily gives the same port 0 again right after it was closed.</summary>
    public static int FreePort()
    {
        while (true)
        {
            var port = Interlocked.Increment(ref _nextPort);
            if (port >= 32000) Interlocked.CompareExchange(ref _nextPort, 20000, port);
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken by something else; try the next.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>Every log line the server wrote, for asserting on what an operator would read.</summary>
internal sealed class LogLines : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(_lines);

    public void Dispose()
    {
    }

    private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}

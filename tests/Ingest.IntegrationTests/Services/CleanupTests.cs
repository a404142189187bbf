using System.Net.Sockets;
using System.Text.RegularExpressions;
using Ingest.LocalStack;
using Ingest.LocalStack.Processes;

namespace Ingest.IntegrationTests.Services;

/// <summary>Services never outlive the process that started them, even when it is killed without a chance to
/// clean up (a crashed test host, CI's timeout).</summary>
public sealed partial class CleanupTests
{
    [Fact]
    public async Task Killing_the_stack_process_with_sigkill_takes_its_services_down()
    {
        var dir = Directory.CreateTempSubdirectory("ingest-stack-cleanup-").FullName;
        var log = Path.Combine(dir, "up.log");
        var host = ChildProcesses.Start("dotnet", [RepoPaths.LocalStackDll, "up", "independent"], log);
        try
        {
            var endpoints = await Poll.UntilAsync(async () =>
            {
                var text = File.Exists(log) ? await File.ReadAllTextAsync(log) : "";
                return Ports().Matches(text).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            }, ports => ports.Count >= 4 || host.HasExited, TimeSpan.FromSeconds(60), everyMs: 200);
            Assert.True(endpoints.Count >= 4, $"stack did not come up: {Wait.Tail(log)}");
            Assert.All(endpoints, p => Assert.True(IsListening(p), $"port {p} is not listening while the stack runs"));

            ChildProcesses.Kill(host); // SIGKILL: no finalizers, no ProcessExit handlers

            var stillUp = await Poll.UntilAsync(() => Task.FromResult(endpoints.Where(IsListening).ToList()), up => up.Count == 0, TimeSpan.FromSeconds(15), everyMs: 200);
            Assert.True(stillUp.Count == 0, $"still listening after the stack process was killed: {string.Join(", ", stillUp)}");
        }
        finally
        {
            ChildProcesses.Kill(host);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // "zookeeper a 127.0.0.1:PORT" and "clickhouse a1 ... http=http://127.0.0.1:PORT/"
    [GeneratedRegex(@"(?:zookeeper \w+ 127\.0\.0\.1:|http=http://127\.0\.0\.1:)(\d+)")]
    private static partial Regex Ports();
}

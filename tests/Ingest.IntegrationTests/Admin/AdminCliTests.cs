using System.Globalization;
using System.Text.Json;
using Ingest.Cli;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;

namespace Ingest.IntegrationTests.Admin;

/// <summary><c>ingest status</c> against the real worker process: its admin API on its own port, behind the token.</summary>
public sealed class AdminCliTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private const string Token = "integration-admin-token";
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Status_reports_the_workers_region_group_and_state_through_the_admin_api()
    {
        var topic = StackFixture.NewTopic("adm");
        var table = $"default.adm_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        _stack.Kafka!.CreateTopic(topic, 2);
        var admin = $"http://127.0.0.1:{FreePorts.Next()}";
        var group = topic.Split('-')[0];

        await using var worker = await WorkerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Ingest:Region"] = "east",
            ["Ingest:Kafka:BootstrapServers"] = _stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = group,
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Endpoints:0"] = _stack.Node("ch").HttpEndpoint.ToString(),
            ["Ingest:ClickHouse:Table"] = table,
            ["Ingest:Admin:Url"] = admin,
            ["Ingest:Admin:Token"] = Token,
        }, Path.Combine(_stack.Directory, $"worker-{topic}.log"));

        // Running once the group has assigned the partitions; the admin API answers from the first moment.
        var (code, status) = await Poll.UntilAsync(() => StatusAsync(admin, Token), r => r.Status?.GetProperty("state").GetString() == "Running", TimeSpan.FromSeconds(60), everyMs: 250);
        Assert.True(code == 0, $"exit {code}, log:\n{Wait.Tail(worker.LogFile)}");
        Assert.Equal("east", status!.Value.GetProperty("region").GetString());
        Assert.Equal($"{group}.east", status.Value.GetProperty("group").GetString());
        Assert.Equal("Running", status.Value.GetProperty("state").GetString());

        var tables = await RunAsync("status", "--worker", admin, "--token", Token);
        Assert.Equal(0, tables.Code);
        Assert.Contains($"{admin}  region east  group {group}.east  Running", tables.Out, StringComparison.Ordinal);

        var refused = await RunAsync("status", "--worker", admin, "--token", "wrong");
        Assert.Equal(4, refused.Code);
        Assert.Equal($"worker {admin} refused the token (401)", refused.Error.Trim());

        // Health and metrics stay on Urls, without a token; the admin routes are not there.
        var health = worker.AdminEndpoint.ToString().TrimEnd('/');
        var onHealthPort = await RunAsync("status", "--worker", health, "--token", Token);
        Assert.Equal(1, onHealthPort.Code);
        Assert.Contains("answered 404", onHealthPort.Error, StringComparison.Ordinal);
        Assert.Contains("ingest_", await worker.MetricsAsync(), StringComparison.Ordinal);

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
        var log = await File.ReadAllTextAsync(worker.LogFile);
        Assert.Contains($"Admin API on {admin}/ (bearer token required)", log, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, log, StringComparison.Ordinal);
    }

    private static async Task<(int Code, JsonElement? Status)> StatusAsync(string admin, string token)
    {
        var run = await RunAsync("status", "--json", "--worker", admin, "--token", token);
        using var doc = JsonDocument.Parse(run.Out);
        var answer = doc.RootElement.GetProperty("workers")[0].GetProperty("answer");
        return (run.Code, answer.ValueKind == JsonValueKind.Object ? answer.Clone() : null);
    }

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var code = await IngestCli.RunAsync(args, new CliIo(stdout, stderr, _ => null) { Width = 250 });
        return (code, stdout.ToString(), stderr.ToString());
    }
}

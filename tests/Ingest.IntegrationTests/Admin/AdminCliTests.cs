using System.Globalization;
using System.Text.Json;
using Ingest.Cli;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;

namespace Ingest.IntegrationTests.Admin;

/// <summary>The ingest CLI against the real worker process: its admin API on its own port, behind the token, driving the
/// pipeline's own pause, resume and flush.</summary>
public sealed class AdminCliTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private const string Token = "integration-admin-token";
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Status_pause_flush_and_resume_work_through_the_admin_api_of_the_real_worker()
    {
        var topic = StackFixture.NewTopic("adm");
        var table = $"default.adm_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        _stack.Kafka!.CreateTopic(topic, 2);
        var admin = $"http://127.0.0.1:{FreePorts.Next()}";
        var group = topic.Split('-')[0];

        await using var worker = await StartWorkerAsync("east", group, topic, table, admin, $"worker-{topic}.log");

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

        // Flush: everything consumed so far is committed; the positions add up to every message produced.
        Assert.Equal(100, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, 100));
        await Poll.UntilAsync(() => CountAsync(table), n => n >= 100, TimeSpan.FromSeconds(60));
        var flush = await RunAsync("flush", "--json", "--worker", admin, "--token", Token, "--timeout", "30s");
        Assert.True(flush.Code == 0, flush.Error);
        using (var doc = JsonDocument.Parse(flush.Out))
        {
            var positions = doc.RootElement.GetProperty("workers")[0].GetProperty("answer").GetProperty("positions");
            Assert.Equal(100, positions.EnumerateArray().Sum(p => p.GetProperty("committed").GetInt64()));
        }

        // Pause holds the topic (status shows the reason on each partition) until resume lifts it.
        var pause = await RunAsync("pause", "--worker", admin, "--token", Token, "--topic", topic, "--reason", "backup");
        Assert.True(pause.Code == 0, pause.Error);
        Assert.Contains($"paused topic {topic} (backup): 2 partition(s) assigned here matched", pause.Out, StringComparison.Ordinal);
        Assert.Equal(50, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 100, 50));
        await Task.Delay(1500); // several batch ages: unpaused, the rows would have landed by now
        Assert.Equal(100, await CountAsync(table));
        var (_, paused) = await StatusAsync(admin, Token);
        Assert.All(paused!.Value.GetProperty("partitions").EnumerateArray(),
            p => Assert.Equal(["backup"], p.GetProperty("pausedBy").EnumerateArray().Select(r => r.GetString())));
        var resume = await RunAsync("resume", "--worker", admin, "--token", Token, "--reason", "backup");
        Assert.True(resume.Code == 0, resume.Error);
        Assert.Equal(150, await Poll.UntilAsync(() => CountAsync(table), n => n >= 150, TimeSpan.FromSeconds(60)));

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
        var log = await File.ReadAllTextAsync(worker.LogFile);
        Assert.Contains($"Admin API on {admin}/ (bearer token required)", log, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_command_reaches_every_worker_of_the_region_listed_in_a_workers_file()
    {
        var topic = StackFixture.NewTopic("adm2");
        var table = $"default.adm2_{Guid.NewGuid():N}"[..30];
        await _stack.Node("ch").Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        _stack.Kafka!.CreateTopic(topic, 4);
        var admins = new[] { $"http://127.0.0.1:{FreePorts.Next()}", $"http://127.0.0.1:{FreePorts.Next()}" };
        var workers = new List<WorkerProcess>();
        try
        {
            foreach (var admin in admins)
            {
                workers.Add(await StartWorkerAsync("west", topic, topic, table, admin, $"worker-{topic}-{workers.Count}.log"));
            }
            var file = Path.Combine(_stack.Directory, $"workers-{topic}.txt");
            await File.WriteAllTextAsync(file, $"# region west\n{admins[0]}\n{admins[1]}\n");

            // The group spreads the 4 partitions over both workers; the status table lists them all.
            var spread = await Poll.UntilAsync(() => PartitionsPerWorkerAsync(file), p => p.Count == 2 && p.All(n => n > 0) && p.Sum() == 4, TimeSpan.FromSeconds(60), everyMs: 250);
            Assert.Equal(4, spread.Sum());
            var table4 = await RunAsync("status", "--workers-file", file, "--token", Token);
            Assert.Equal(0, table4.Code);
            foreach (var admin in admins) Assert.Contains($"{admin}  region west  group {topic}.west  Running", table4.Out, StringComparison.Ordinal);

            // Flush over both: the committed positions of all partitions add up to what was produced.
            Assert.Equal(400, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, 400));
            await Poll.UntilAsync(() => CountAsync(table), n => n >= 400, TimeSpan.FromSeconds(60));
            var flush = await RunAsync("flush", "--json", "--workers-file", file, "--token", Token, "--timeout", "30s");
            Assert.True(flush.Code == 0, flush.Error);
            using (var doc = JsonDocument.Parse(flush.Out))
            {
                var answers = doc.RootElement.GetProperty("workers").EnumerateArray().ToList();
                Assert.Equal(2, answers.Count);
                Assert.Equal(400, answers.Sum(w => w.GetProperty("answer").GetProperty("positions").EnumerateArray().Sum(p => p.GetProperty("committed").GetInt64())));
            }

            // A paused region takes nothing more, whichever worker holds a partition; resume lets it all in.
            Assert.Equal(0, (await RunAsync("pause", "--workers-file", file, "--token", Token)).Code);
            Assert.Equal(100, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 400, 100));
            await Task.Delay(1500);
            Assert.Equal(400, await CountAsync(table));
            Assert.Equal(0, (await RunAsync("resume", "--workers-file", file, "--token", Token)).Code);
            Assert.Equal(500, await Poll.UntilAsync(() => CountAsync(table), n => n >= 500, TimeSpan.FromSeconds(60)));

            // One worker gone: the CLI says which, with the exit code for an unreachable worker.
            Assert.Equal(0, await workers[1].StopAsync(TimeSpan.FromSeconds(30)));
            var partial = await RunAsync("status", "--workers-file", file, "--token", Token);
            Assert.Equal(3, partial.Code);
            Assert.Contains($"worker {admins[1]} unreachable", partial.Error, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var w in workers) await w.DisposeAsync();
        }
    }

    /// <summary>The real worker consuming <paramref name="topic"/> into <paramref name="table"/>, its admin API on
    /// <paramref name="admin"/> behind <see cref="Token"/>.</summary>
    private Task<WorkerProcess> StartWorkerAsync(string region, string group, string topic, string table, string admin, string log) =>
        WorkerProcess.StartAsync(new Dictionary<string, string>
        {
            ["Ingest:Region"] = region,
            ["Ingest:Kafka:BootstrapServers"] = _stack.KafkaBootstrap,
            ["Ingest:Kafka:Group"] = group,
            ["Ingest:Kafka:Topics:0"] = topic,
            ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
            ["Ingest:ClickHouse:Endpoints:0"] = _stack.Node("ch").HttpEndpoint.ToString(),
            ["Ingest:ClickHouse:Table"] = table,
            ["Ingest:Batching:MaxAge"] = "00:00:00.300",
            ["Ingest:Admin:Url"] = admin,
            ["Ingest:Admin:Token"] = Token,
        }, Path.Combine(_stack.Directory, log));

    private static async Task<List<int>> PartitionsPerWorkerAsync(string workersFile)
    {
        var run = await RunAsync("status", "--json", "--workers-file", workersFile, "--token", Token);
        using var doc = JsonDocument.Parse(run.Out);
        return [.. doc.RootElement.GetProperty("workers").EnumerateArray()
            .Select(w => w.GetProperty("answer") is { ValueKind: JsonValueKind.Object } a ? a.GetProperty("partitions").GetArrayLength() : 0)];
    }

    private async Task<long> CountAsync(string table) =>
        long.Parse(await _stack.Node("ch").Client.ScalarAsync($"SELECT count() FROM {table}") ?? "-1", CultureInfo.InvariantCulture);

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

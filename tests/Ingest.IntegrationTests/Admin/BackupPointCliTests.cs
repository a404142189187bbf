using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingest.Cli;
using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Processes;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Admin;

/// <summary>Backup point and restore as an operator runs them: two real worker processes of region a, the ingest CLI
/// taking the point through their admin API (FREEZE backend configured on the workers), the table dropped, and
/// <c>ingest restore --restore-data</c> with the workers' configuration file while they are stopped.</summary>
public sealed class BackupPointCliTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private const string Token = "backup-point-token";
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private ClickHouseServer A => _stack.Node("a1");

    [Fact]
    public async Task Backup_point_over_two_workers_then_drop_restore_and_replay_with_the_cli()
    {
        var topic = StackFixture.NewTopic("bpcli");
        _stack.Kafka!.CreateTopic(topic, 4);
        var table = await Load.CreateTableAsync(A, "bpcli");
        var settings = Load.WorkerSettings(_stack.KafkaBootstrap, A, topic, table);
        settings["Ingest:Backup:Backend"] = "freeze";
        settings["Ingest:Backup:Freeze:DataPath"] = Path.Combine(A.Directory, "data");
        settings["Ingest:Admin:Token"] = Token;
        var admins = new[] { $"http://127.0.0.1:{FreePorts.Next()}", $"http://127.0.0.1:{FreePorts.Next()}" };
        var config = Path.Combine(_stack.Directory, $"{topic}.json");
        await File.WriteAllTextAsync(config, Nested(settings).ToJsonString());
        await using var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 100, tickMs: 50);
        var workers = new List<WorkerProcess>();
        try
        {
            foreach (var admin in admins) workers.Add(await StartAsync(settings, admin, topic, workers.Count));
            await Poll.UntilAsync(() => PartitionsAsync(admins), p => p.All(n => n > 0) && p.Sum() == 4, TimeSpan.FromSeconds(60), everyMs: 250);
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {table}"), n => n > 2_000, TimeSpan.FromSeconds(30));

            var create = await RunAsync("backup-point", "create", "--name", "before-drop", "--worker", admins[0], "--worker", admins[1], "--token", Token, "--json");
            output.WriteLine(create.Out + create.Error);
            Assert.True(create.Code == 0, create.Error);
            using (var doc = JsonDocument.Parse(create.Out))
            {
                var point = doc.RootElement.GetProperty("workers")[0].GetProperty("answer");
                Assert.Equal("finished", point.GetProperty("status").GetString());
                Assert.Equal(2, point.GetProperty("workers").GetArrayLength());
                Assert.Equal(4, point.GetProperty("positions").GetArrayLength());
                Assert.StartsWith("froze", point.GetProperty("detail").GetString());
            }
            var taken = await RunAsync("backup-point", "create", "--name", "before-drop", "--worker", admins[0], "--token", Token);
            Assert.Equal(1, taken.Code);
            Assert.Contains("already exists", taken.Error);
            var list = await RunAsync("backup-point", "list", "--worker", admins[1], "--token", Token);
            Assert.True(list.Code == 0, list.Error);
            Assert.Contains("before-drop", list.Out);
            Assert.Contains("finished", list.Out);

            var atPoint = await A.CountAsync($"SELECT count() FROM {table}");
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {table}"), n => n > atPoint + 3_000, TimeSpan.FromSeconds(30));
            await A.Client.ExecuteAsync($"DROP TABLE {table}");

            // The workers still run: nothing is changed, the group's members are the reason.
            var busy = await RunAsync("restore", "--config", config, "--backup-point", "before-drop", "--restore-data");
            output.WriteLine(busy.Out + busy.Error);
            Assert.Equal(1, busy.Code);
            Assert.Contains("member", busy.Error);
            foreach (var w in workers) Assert.Equal(0, await w.StopAsync(TimeSpan.FromSeconds(30)));
            workers.Clear();
            var total = await load.StopAsync();

            var restore = await RunAsync("restore", "--config", config, "--backup-point", "before-drop", "--restore-data");
            output.WriteLine(restore.Out + restore.Error);
            Assert.True(restore.Code == 0, restore.Error);
            Assert.Contains("start the region's workers to replay", restore.Out);

            foreach (var admin in admins) workers.Add(await StartAsync(settings, admin, topic, workers.Count));
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {table}"), n => n >= total, TimeSpan.FromSeconds(90));
            await Task.Delay(1_000);
            Assert.Equal(total, await A.CountAsync($"SELECT count() FROM {table}"));
            Assert.Equal(total, await A.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {table}"));
            Assert.Equal(total * (total - 1) / 2, await A.CountAsync($"SELECT sum(seq) FROM {table}"));
        }
        finally
        {
            await load.StopAsync().ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var w in workers) await w.DisposeAsync();
        }
    }

    private Task<WorkerProcess> StartAsync(Dictionary<string, string> settings, string admin, string topic, int n) =>
        WorkerProcess.StartAsync(new Dictionary<string, string>(settings) { ["Ingest:Admin:Url"] = admin }, Path.Combine(_stack.Directory, $"worker-{topic}-{n}.log"));

    private static async Task<List<int>> PartitionsAsync(string[] admins)
    {
        var counts = new List<int>();
        foreach (var admin in admins)
        {
            var run = await RunAsync("status", "--json", "--worker", admin, "--token", Token);
            using var doc = JsonDocument.Parse(run.Out);
            counts.Add(doc.RootElement.GetProperty("workers")[0].GetProperty("answer") is { ValueKind: JsonValueKind.Object } a ? a.GetProperty("partitions").GetArrayLength() : 0);
        }
        return counts;
    }

    /// <summary>"Ingest:Kafka:Topics:0" = "t" → {"Ingest": {"Kafka": {"Topics": {"0": "t"}}}}, which the JSON
    /// configuration provider reads back as the same keys.</summary>
    private static JsonObject Nested(Dictionary<string, string> settings)
    {
        var root = new JsonObject();
        foreach (var (key, value) in settings)
        {
            var node = root;
            var parts = key.Split(':');
            foreach (var part in parts[..^1])
            {
                node = node[part] as JsonObject ?? (JsonObject)(node[part] = new JsonObject());
            }
            node[parts[^1]] = value;
        }
        return root;
    }

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var code = await IngestCli.RunAsync(args, new CliIo(stdout, stderr, _ => null) { Width = 250 });
        return (code, stdout.ToString(), stderr.ToString());
    }
}

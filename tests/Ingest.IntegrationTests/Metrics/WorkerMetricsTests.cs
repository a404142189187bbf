using System.Diagnostics;
using System.Globalization;
using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Processes;
using Ingest.LocalStack.Prometheus;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Metrics;

/// <summary>The real worker process's /metrics: valid for promtool, and what a real Prometheus scrapes from it adds up.</summary>
public sealed class WorkerMetricsTests(SingleStack fixture, ITestOutputHelper output) : IClassFixture<SingleStack>
{
    private const string Promtool = "/usr/bin/promtool";
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Promtool_accepts_the_metrics_and_Prometheus_counts_every_consumed_message()
    {
        const int count = 3_000;
        const int partitions = 4;
        var (worker, topic, table) = await ConsumedAsync("prom", partitions, count);
        await using var _ = worker;

        var text = await worker.MetricsAsync();
        var (exitCode, lint) = await PromtoolCheckAsync(text);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{lint}\n--- /metrics:\n{text}");

        var consumed = PrometheusText.Samples(text, "ingest_messages_consumed_total");
        Assert.Equal(count, consumed.Sum(s => s.Value));
        Assert.All(consumed, s => Assert.Equal((topic, "m"), (s.Labels["topic"], s.Labels["region"])));
        var rows = Assert.Single(PrometheusText.Samples(text, "ingest_rows_inserted_total"));
        Assert.Equal((count, table, "m"), (rows.Value, rows.Labels["table"], rows.Labels["region"]));
        Assert.Contains("# TYPE ingest_rows_inserted_total counter\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE ingest_insert_duration_seconds histogram\n", text, StringComparison.Ordinal);
        var buckets = PrometheusText.Samples(text, "ingest_insert_duration_seconds_bucket");
        Assert.All(buckets, b => Assert.Equal(table, b.Labels["table"]));
        var inserts = PrometheusText.Sum(text, "ingest_batches_inserted_total");
        Assert.True(inserts >= 1, "no INSERT counted");
        Assert.Equal(inserts, Assert.Single(buckets, b => b.Labels["le"] == "+Inf").Value);
        Assert.Equal(inserts, PrometheusText.Sum(text, "ingest_insert_duration_seconds_count"));
        Assert.DoesNotContain("ingest_ingest", text, StringComparison.Ordinal);

        await using var prometheus = await PrometheusServer.StartAsync(
            Path.Combine(_stack.Directory, $"prometheus-{topic}"), [$"127.0.0.1:{worker.Port}"]);
        var scraped = await Poll.UntilAsync(() => prometheus.ValueAsync("sum(ingest_messages_consumed_total)"), v => v == count, TimeSpan.FromSeconds(30), everyMs: 250);
        Assert.Equal(count, scraped);
        // Prometheus negotiates OpenMetrics with the worker: the histogram arrives whole, labelled.
        Assert.Equal(14, await prometheus.ValueAsync($"count(ingest_insert_duration_seconds_bucket{{table=\"{table}\",region=\"m\",job=\"ingest\"}})"));
        Assert.Equal(count, await prometheus.ValueAsync($"sum by (table) (ingest_rows_inserted_total{{table=\"{table}\"}})"));
        Assert.Equal(partitions, await prometheus.ValueAsync($"count(ingest_kafka_consumer_lag{{topic=\"{topic}\",table=\"{table}\",partition=~\"[0-3]\"}})"));

        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Consumer_lag_is_exported_per_partition_and_drains_to_zero()
    {
        const int partitions = 3;
        var (worker, topic, table) = await ConsumedAsync("lag", partitions, count: 2_000);
        await using var _ = worker;

        // Committed offsets reach the high watermarks once the last INSERT is acknowledged and checkpointed.
        var lag = await Poll.UntilAsync(async () => PrometheusText.Samples(await worker.MetricsAsync(), "ingest_kafka_consumer_lag"),
            s => s.Count == partitions && s.All(x => x.Value == 0), TimeSpan.FromSeconds(30));
        Assert.Equal([.. Enumerable.Range(0, partitions).Select(p => p.ToString(CultureInfo.InvariantCulture))],
            lag.Select(s => s.Labels["partition"]).Order(StringComparer.Ordinal));
        Assert.All(lag, s => Assert.Equal((topic, table, "m", 0.0), (s.Labels["topic"], s.Labels["table"], s.Labels["region"], s.Value)));
        Assert.Equal(0, await worker.StopAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>A worker of region "m" that has consumed <paramref name="count"/> sample events from a new topic into a new
    /// table: every row is in ClickHouse when this returns.</summary>
    private async Task<(WorkerProcess Worker, string Topic, string Table)> ConsumedAsync(string prefix, int partitions, int count)
    {
        var node = _stack.Node("ch");
        var topic = StackFixture.NewTopic(prefix);
        _stack.Kafka!.CreateTopic(topic, partitions);
        var table = await Load.CreateTableAsync(node, "m", engine: "MergeTree ORDER BY seq");
        var worker = await WorkerProcess.StartAsync(Load.WorkerSettings(_stack.KafkaBootstrap, node, topic, table, region: "m"),
            Path.Combine(_stack.Directory, $"worker-{topic}.log"));
        try
        {
            Assert.Equal(count, SampleEvents.Produce(_stack.KafkaBootstrap, topic, 0, count));
            Assert.Equal(count, await Poll.UntilAsync(() => node.CountAsync($"SELECT count() FROM {table}"), n => n >= count, TimeSpan.FromSeconds(60)));
            return (worker, topic, table);
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }
    }

    /// <summary>`promtool check metrics` over <paramref name="exposition"/> on stdin: exit code and what it printed.</summary>
    private async Task<(int ExitCode, string Output)> PromtoolCheckAsync(string exposition)
    {
        Assert.True(File.Exists(Promtool), $"{Promtool} missing: run scripts/bootstrap.sh (Debian package prometheus)");
        var info = new ProcessStartInfo(Promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var printed = (await stdout) + (await stderr);
        output.WriteLine($"promtool check metrics: exit {process.ExitCode} {printed}");
        return (process.ExitCode, printed);
    }
}

using System.Globalization;
using Confluent.Kafka;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.Pipeline;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>What the end-to-end tests share: the sample-events table, pipeline options, counting.</summary>
internal static class Load
{
    /// <summary>A sample-events table with seq and the provenance columns _partition/_offset, so counts can be
    /// checked by distinct (partition, offset); ReplicatedMergeTree (deduplicating) unless <paramref name="engine"/>.</summary>
    public static async Task<string> CreateTableAsync(ClickHouseServer node, string prefix, string extraColumns = "", string? engine = null)
    {
        var table = $"default.{prefix}_{Guid.NewGuid():N}"[..30];
        await CreateNamedTableAsync(node, table, extraColumns, engine);
        return table;
    }

    /// <summary>The same table under a given name (e.g. on another replica of its subcluster).</summary>
    public static Task CreateNamedTableAsync(ClickHouseServer node, string table, string extraColumns = "", string? engine = null)
    {
        engine ??= $"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}') ORDER BY (_partition, _offset)";
        return node.Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64, _partition UInt32, _offset UInt64{extraColumns}) ENGINE = {engine}");
    }

    /// <summary>Options for one in-process pipeline of region "a" consuming <paramref name="topic"/> (group = topic).</summary>
    public static IngestOptions Options(string bootstrap, ClickHouseServer node, string topic, string table, int maxAgeMs = 150, int maxRows = 100_000) => new()
    {
        Region = "a",
        Kafka = { BootstrapServers = bootstrap, Group = topic, Topics = [topic], Properties = { ["session.timeout.ms"] = "6000" } },
        ClickHouse = { Endpoints = [node.HttpEndpoint.ToString()], Table = table },
        Batching = { MaxAge = TimeSpan.FromMilliseconds(maxAgeMs), MaxRows = maxRows },
    };

    /// <summary>Configuration of a worker process (<see cref="LocalStack.Processes.WorkerProcess"/>) consuming
    /// <paramref name="topic"/> into <paramref name="table"/> on <paramref name="node"/>; group = topic unless given.</summary>
    public static Dictionary<string, string> WorkerSettings(string bootstrap, ClickHouseServer node, string topic, string table,
        string region = "a", string? group = null, int maxAgeMs = 300) => new()
    {
        ["Ingest:Region"] = region,
        ["Ingest:Kafka:BootstrapServers"] = bootstrap,
        ["Ingest:Kafka:Group"] = group ?? topic,
        ["Ingest:Kafka:Topics:0"] = topic,
        ["Ingest:Kafka:Properties:session.timeout.ms"] = "6000",
        ["Ingest:ClickHouse:Endpoints:0"] = node.HttpEndpoint.ToString(),
        ["Ingest:ClickHouse:Table"] = table,
        ["Ingest:Batching:MaxAge"] = TimeSpan.FromMilliseconds(maxAgeMs).ToString(null, CultureInfo.InvariantCulture),
    };

    public static async Task<long> CountAsync(this ClickHouseServer node, string sql) =>
        long.Parse(await node.Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);
}

/// <summary>Sample events produced in the background at a steady pace (seq 0, 1, 2, ...) until stopped: load that
/// keeps arriving while a test breaks things. Disposing without <see cref="StopAsync"/> (a test that failed) abandons
/// the tick under way, so no producer is left behind retrying brokers that are gone.</summary>
internal sealed class SteadyProducer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abandon = new();
    private readonly IProducer<Null, byte[]> _producer;
    private readonly Task _producing;
    private long _produced;
    private bool _stopped;

    public SteadyProducer(string bootstrap, string topic, int perTick, int tickMs)
    {
        // One client for the whole run: a producer per tick (20 a second) cost a connection set-up to every broker each.
        _producer = new ProducerBuilder<Null, byte[]>(SampleEvents.DefaultConfig(bootstrap)).Build();
        _producing = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Interlocked.Add(ref _produced, SampleEvents.Produce(_producer, topic, Interlocked.Read(ref _produced), perTick, ct: _abandon.Token));
                try
                {
                    await Task.Delay(tickMs, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Stops producing after the tick under way; returns how many messages were acknowledged in all, which
    /// is every message produced (seq 0 .. n-1).</summary>
    public async Task<long> StopAsync()
    {
        if (_stopped) return Produced;
        _stopped = true;
        try
        {
            await _stop.CancelAsync();
            await _producing;
        }
        finally
        {
            _producer.Dispose();
        }
        return Produced;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _stop.CancelAsync();
            await _abandon.CancelAsync();
            try
            {
                await _producing;
            }
            catch (Exception)
            {
                // The test failed already (it never stopped the load): its own error is the one to see.
            }
            _producer.Dispose();
        }
        _stop.Dispose();
        _abandon.Dispose();
    }
}

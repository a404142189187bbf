using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Targets;

/// <summary>The region's ClickHouse table behind one or more replica endpoints: loads its schema and inserts
/// batches, retrying what is worth retrying (on the next endpoint) until the server acknowledges.</summary>
internal sealed class ClickHouseTarget : IInsertTarget
{
    /// <summary>The table cannot take writes until its Keeper answers again. Measured on 18.16 with the Keeper frozen
    /// (SIGSTOP): the first INSERT waits ~2 s and fails with 999 ("Cannot allocate block number in ZooKeeper:
    /// Coordination::Exception"), every later one at once with 242 ("Table is in readonly mode") until ~5 s after the
    /// Keeper is back. 225 (NO_ZOOKEEPER): the server has no Keeper session at all.</summary>
    private static bool IsReadOnly(ClickHouseServerException e) => e.Code is 242 or 999 or 225 || e.IsKeeperLoss;

    private readonly ClickHouseOptions _options;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly ClickHouseHttpClient[] _clients;
    private readonly EndpointStatus[] _endpoints;
    private readonly X509Certificate2Collection? _caCertificates;
    private readonly Dictionary<string, string> _jsonSettings;
    private readonly Regions.QuorumPolicy? _quorum;
    private int _current;
    private volatile bool _readOnly;

    public ClickHouseTarget(ClickHouseOptions options, ILogger logger, IngestMetrics metrics, Regions.QuorumPolicy? quorum = null)
    {
        _quorum = quorum;
        _options = options;
        _logger = logger;
        _metrics = metrics;
        // JSONEachRow: producers add fields over time; the table decides what is kept.
        _jsonSettings = new Dictionary<string, string>(options.Settings) { ["input_format_skip_unknown_fields"] = "1" };
        // Read once and shared by every endpoint's client (each validates its own TLS handshakes against them).
        _caCertificates = options.LoadCaCertificates();
        _clients = [.. options.Endpoints.Select(e => new ClickHouseHttpClient(new Uri(e), options.User, options.Password, options.RequestTimeout, caCertificates: _caCertificates))];
        _endpoints = [.. _clients.Select(c => new EndpointStatus(c.Endpoint.ToString(), null, null, null))];
    }

    public string Table => _options.Table;

    public int EndpointCount => _clients.Length;

    public TargetStatus Status => new(Table, [.. _endpoints], _readOnly, _quorum?.Quorum);

    /// <summary>Reads the table's columns, trying each endpoint in turn until one answers or <paramref name="ct"/>
    /// fires: a worker started before its ClickHouse waits for it, not-ready, instead of exiting.</summary>
    public async Task<TableSchema> LoadSchemaAsync(CancellationToken ct)
    {
        TableSchema? schema = null;
        await RetryPolicy.ExecuteAsync(async attempt =>
        {
            var i = (_current + attempt) % _clients.Length;
            schema = await Track(i, TableSchema.LoadAsync(_clients[i], _options.Table, ct)).ConfigureAwait(false);
        }, RetryLimits.UntilStopped, ct, (e, attempt, delay) =>
            _logger.LogWarning("Reading the schema of {Table} failed (attempt {Attempt}), trying again in {Delay} ms: {Error}", _options.Table, attempt, (int)delay.TotalMilliseconds, e.Message))
            .ConfigureAwait(false);
        return schema!;
    }

    /// <summary>Inserts the batches (one INSERT, one Native block per batch, in batch order); returns once ClickHouse
    /// acknowledged them. Retryable failures (network, 242 read-only, 252 too many parts, 319 unknown status, 999
    /// Keeper, ...) are retried with backoff, the same bytes each time, on the next endpoint only when this one did not answer; after
    /// <paramref name="stopping"/> fires it gives up after 3 attempts. A failure that retrying cannot fix throws,
    /// naming the table and the batches.</summary>
    public async Task InsertAsync(IReadOnlyList<PartitionBatch> batches, IReadOnlyDictionary<string, string>? extraSettings, CancellationToken stopping)
    {
        var format = batches[0].Rows.Format;
        var rows = batches.Sum(b => b.Rows.Rows);
        var settings = format == "JSONEachRow" ? _jsonSettings : _options.Settings;
        if (extraSettings is not null)
        {
            // The replay identity's settings win over the operator's: changing them would break deduplication.
            var merged = new Dictionary<string, string>(settings);
            foreach (var (k, v) in extraSettings) merged[k] = v;
            settings = merged;
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            await RunAsync($"insert of {Describe(batches)} into {_options.Table}", async client =>
            {
                using var content = new BatchesContent(batches, _options.Compression == InsertCompression.Gzip);
                await client.InsertAsync(_options.Table, format, content, WithQuorum(settings), CancellationToken.None).ConfigureAwait(false);
            }, stopping).ConfigureAwait(false);
            _readOnly = false;
            _metrics.Inserted(_options.Table, rows, Stopwatch.GetElapsedTime(started));
        }
        catch (ClickHouseServerException e) when (ClickHouseErrors.IsSchemaMismatch(e))
        {
            throw new SchemaMismatchException($"ClickHouse refused {Describe(batches)} for {_options.Table}: it no longer fits the table (error {e.Code}). {e.Message}", e);
        }
        catch (ClickHouseServerException e)
        {
            throw new TargetRefusedException(
                $"ClickHouse refused {Describe(batches)} for {_options.Table} (error {e.Code}, not retryable); their offsets stay uncommitted. {e.Message}", e);
        }
    }

    /// <summary>Runs <paramref name="operation"/> on the current endpoint until it succeeds, moving to the next endpoint
    /// after each retryable failure where the endpoint did not answer (<see cref="RetryPolicy"/>). Non-retryable ClickHouse errors are rethrown as they
    /// are; once <paramref name="stopping"/> fires, a request still failing ends in <see cref="OperationCanceledException"/>.</summary>
    public async Task RunAsync(string what, Func<ClickHouseHttpClient, Task> operation, CancellationToken stopping)
    {
        try
        {
            await RetryPolicy.ExecuteAsync(_ =>
            {
                var i = Volatile.Read(ref _current) % _clients.Length;
                return Track(i, operation(_clients[i]));
            }, RetryLimits.UntilAcknowledged, stopping, (e, attempt, delay) =>
            {
                _quorum?.Failed(e);
                // Another endpoint only when this one did not answer. A server that answered (286, 319, 242, 999...)
                // keeps the resend: the same bytes to the same replica, which holds the block if it landed. Sent to a
                // second replica instead, the block id already in Keeper makes it answer "deduplicated" for rows only
                // the first holds. Seen in the two-subcluster takeover test: 286s had moved region b's INSERTs to region
                // a's replica of b's subcluster; when region a was lost, 74 acknowledged rows of b's own partition were
                // missing from b's home replica.
                if (e is not ClickHouseServerException) Interlocked.Increment(ref _current);
                _logger.LogWarning("The {What} failed (attempt {Attempt}), retrying in {Delay} ms on {Endpoint}: {Error}",
                    what, attempt, (int)delay.TotalMilliseconds, _clients[Volatile.Read(ref _current) % _clients.Length].Endpoint, e.Message);
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (stopping.IsCancellationRequested && ClickHouseErrors.IsRetryable(e))
        {
            throw new OperationCanceledException($"Stopping with the {what} unacknowledged; the offsets stay uncommitted and will be replayed.", e);
        }
    }

    /// <summary>Runs <paramref name="sql"/> on every endpoint (DDL each replica needs, e.g. CREATE TABLE IF NOT
    /// EXISTS of a replicated table); returns the endpoints that failed, with why.</summary>
    public async Task<IReadOnlyList<string>> ExecuteOnEveryEndpointAsync(string sql, CancellationToken ct)
    {
        var failures = new List<string>();
        for (var i = 0; i < _clients.Length; i++)
        {
            var client = _clients[i];
            try
            {
                // A few tries each: a connection reset at start must not count as "this replica is down".
                await RetryPolicy.ExecuteAsync(_ => Track(i, client.ExecuteAsync(sql, null, ct)), new RetryLimits(5, 0, CancelDelays: true), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                failures.Add($"{client.Endpoint}: {e.Message}");
            }
        }
        return failures;
    }

    /// <summary>The target table's engine and whole engine clause (system.tables: engine, engine_full), read once at
    /// start to tell replicated tables and their deduplication settings.</summary>
    public async Task<(string Engine, string EngineFull)> ReadEngineAsync(CancellationToken ct)
    {
        var (database, name) = ClickHouseText.SplitTable(_options.Table);
        var fields = (await QueryAsync(
            $"SELECT engine, engine_full FROM system.tables WHERE database = {ClickHouseText.Quote(database)} AND name = {ClickHouseText.Quote(name)} FORMAT TSV", ct)
            .ConfigureAwait(false)).TrimEnd('\n').Split('\t');
        return (fields[0], fields.Length > 1 ? ClickHouseText.UnescapeTsv(fields[1]) : "");
    }

    /// <summary>A query answered by the endpoint in use (with failover and retries), e.g. reading checkpoints.</summary>
    public async Task<string> QueryAsync(string sql, CancellationToken stopping)
    {
        var text = "";
        await RunAsync("query", async client => text = await client.QueryAsync(sql, null, CancellationToken.None).ConfigureAwait(false), stopping).ConfigureAwait(false);
        return text;
    }

    /// <summary>Records what a request to endpoint <paramref name="i"/> found (status, metrics) and passes its outcome on.</summary>
    private async Task Track(int i, Task request)
    {
        try
        {
            await request.ConfigureAwait(false);
            Volatile.Write(ref _endpoints[i], _endpoints[i] with { Reachable = true, LastError = null, CheckedAt = DateTimeOffset.UtcNow });
        }
        catch (Exception e)
        {
            var server = e as ClickHouseServerException;
            if (server is not null && IsReadOnly(server)) _readOnly = true;
            // A server that answered with an error is reachable; one that did not answer is not.
            Volatile.Write(ref _endpoints[i], _endpoints[i] with { Reachable = server is not null, LastError = e.Message, CheckedAt = DateTimeOffset.UtcNow });
            _metrics.InsertFailed(_options.Table, ClickHouseErrors.MetricCode(e));
            throw;
        }
    }

    private async Task<T> Track<T>(int i, Task<T> request)
    {
        await Track(i, (Task)request).ConfigureAwait(false);
        return await request.ConfigureAwait(false);
    }

    /// <summary>The quorum policy's setting, read per attempt: a resend after a quorum failure goes out degraded.</summary>
    private IReadOnlyDictionary<string, string> WithQuorum(IReadOnlyDictionary<string, string> settings)
    {
        if (_quorum is null) return settings;
        var withQuorum = new Dictionary<string, string>(settings);
        _quorum.Apply(withQuorum);
        return withQuorum;
    }

    private static string Describe(IReadOnlyList<PartitionBatch> batches) => string.Join(", ", batches);

    public void Dispose()
    {
        foreach (var c in _clients) c.Dispose();
        foreach (var c in _caCertificates ?? []) c.Dispose();
    }
}

/// <summary>An INSERT built from a schema the table no longer has; the batches can be decoded again from Kafka.</summary>
internal sealed class SchemaMismatchException(string message, Exception inner) : Exception(message, inner);

/// <summary>The table refused the rows for a reason retrying cannot fix (it was dropped, a type cannot be converted):
/// the route pauses, the others go on.</summary>
internal sealed class TargetRefusedException(string message, Exception inner) : InvalidOperationException(message, inner);

using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Targets;

/// <summary>The region's ClickHouse table behind one or more replica endpoints: loads its schema and inserts
/// batches, retrying what is worth retrying (on the next endpoint) until the server acknowledges.</summary>
internal sealed class ClickHouseTarget : IDisposable
{
    private readonly ClickHouseOptions _options;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private readonly ClickHouseHttpClient[] _clients;
    private readonly X509Certificate2Collection? _caCertificates;
    private readonly Dictionary<string, string> _jsonSettings;
    private int _current;

    public ClickHouseTarget(ClickHouseOptions options, ILogger logger, IngestMetrics metrics)
    {
        _options = options;
        _logger = logger;
        _metrics = metrics;
        // JSONEachRow: producers add fields over time; the table decides what is kept.
        _jsonSettings = new Dictionary<string, string>(options.Settings) { ["input_format_skip_unknown_fields"] = "1" };
        // Read once and shared by every endpoint's client (each validates its own TLS handshakes against them).
        _caCertificates = options.LoadCaCertificates();
        _clients = [.. options.Endpoints.Select(e => new ClickHouseHttpClient(new Uri(e), options.User, options.Password, options.RequestTimeout, caCertificates: _caCertificates))];
    }

    public string Table => _options.Table;

    /// <summary>Reads the table's columns, trying each endpoint until one answers.</summary>
    public async Task<TableSchema> LoadSchemaAsync(CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var client = _clients[(_current + attempt) % _clients.Length];
            try
            {
                return await TableSchema.LoadAsync(client, _options.Table, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (ClickHouseErrors.IsRetryable(e) && attempt < _clients.Length * 5)
            {
                _logger.LogWarning("Reading the schema of {Table} from {Endpoint} failed, trying again: {Error}", _options.Table, client.Endpoint, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Inserts the batches (one INSERT, rows in batch order); returns once ClickHouse acknowledged them.
    /// Retryable failures (network, 242 read-only, 252 too many parts, 319 unknown status, 999 Keeper, ...) are retried
    /// with backoff on the next endpoint, the same bytes each time; after <paramref name="stopping"/> fires it gives
    /// up after 3 attempts. A failure that retrying cannot fix throws, naming the table and the batches.</summary>
    public async Task InsertAsync(IReadOnlyList<PartitionBatch> batches, CancellationToken stopping)
    {
        var format = batches[0].Rows.Format;
        var rows = batches.Sum(b => b.Rows.Rows);
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            var client = _clients[_current % _clients.Length];
            try
            {
                using var content = new BatchesContent(batches, _options.Compression == InsertCompression.Gzip);
                var settings = format == "JSONEachRow" ? _jsonSettings : _options.Settings;
                await client.InsertAsync(_options.Table, format, content, settings, CancellationToken.None).ConfigureAwait(false);
                _metrics.BatchInserted(rows);
                return;
            }
            catch (Exception e) when (ClickHouseErrors.IsRetryable(e))
            {
                _metrics.InsertFailed();
                Interlocked.Increment(ref _current);
                if (stopping.IsCancellationRequested && attempt >= 3)
                    throw new OperationCanceledException($"Stopping with {Describe(batches)} unacknowledged; their offsets stay uncommitted and will be replayed.", e);
                _logger.LogWarning("Insert of {Batches} into {Table} failed (attempt {Attempt}), retrying in {Delay} ms on {Endpoint}: {Error}",
                    Describe(batches), _options.Table, attempt, (int)delay.TotalMilliseconds, _clients[_current % _clients.Length].Endpoint, e.Message);
                await Task.Delay(delay, CancellationToken.None).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
            catch (ClickHouseServerException e)
            {
                _metrics.InsertFailed();
                throw new InvalidOperationException(
                    $"ClickHouse refused {Describe(batches)} for {_options.Table} (error {e.Code}, not retryable); their offsets stay uncommitted. {e.Message}", e);
            }
        }
    }

    private static string Describe(IReadOnlyList<PartitionBatch> batches) => string.Join(", ", batches);

    public void Dispose()
    {
        foreach (var c in _clients) c.Dispose();
        foreach (var c in _caCertificates ?? []) c.Dispose();
    }
}

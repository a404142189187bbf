using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;
using Ingest.Pipeline.Metrics;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Targets;

/// <summary>The columns of one target table as the pipeline decodes into them: read again every refresh interval in
/// the background, and on demand when the server refused an INSERT for a schema reason (the rewind decision).</summary>
internal sealed class SchemaTracker
{
    private readonly IInsertTarget _target;
    private readonly MappingOptions _mapping;
    private readonly long _intervalMs;
    private readonly ILogger _logger;
    private readonly IngestMetrics _metrics;
    private Task<TableSchema>? _check;
    private long _lastCheck = Environment.TickCount64;

    public SchemaTracker(IInsertTarget target, TableSchema schema, MappingOptions mapping, TimeSpan refreshInterval, ILogger logger, IngestMetrics metrics)
    {
        _target = target;
        _mapping = mapping;
        _intervalMs = (long)refreshInterval.TotalMilliseconds;
        _logger = logger;
        _metrics = metrics;
        Use(schema);
    }

    public TableSchema Schema { get; private set; } = null!;

    public JsonRowDecoder Decoder { get; private set; } = null!;

    /// <summary>A background read still under way (awaited on shutdown).</summary>
    public Task? Outstanding => _check;

    /// <summary>Starts or finishes the periodic read; true when the table changed and the new columns are in use.</summary>
    public bool Poll(CancellationToken stopping)
    {
        if (_check is null)
        {
            if (_intervalMs > 0 && Environment.TickCount64 - _lastCheck >= _intervalMs) _check = _target.LoadSchemaAsync(stopping);
            return false;
        }
        if (!_check.IsCompleted) return false;
        var check = _check;
        _check = null;
        _lastCheck = Environment.TickCount64;
        if (check.IsCompletedSuccessfully) return AdoptIfChanged(check.Result);
        if (!stopping.IsCancellationRequested)
            _logger.LogWarning("Reading the columns of {Table} again failed, keeping the known ones: {Error}", Schema.Table, check.Exception?.GetBaseException().Message);
        return false;
    }

    /// <summary>Reads the columns now (a route resumes after its table was fixed); true when they changed and the new
    /// ones are in use.</summary>
    public bool Reload(CancellationToken stopping) => AdoptIfChanged(_target.LoadSchemaAsync(stopping).GetAwaiter().GetResult());

    /// <summary>The rewind decision, after the server refused batches decoded into <paramref name="builtWith"/> as not
    /// fitting the table: the columns are read again (and taken up when changed); true when they now differ from the
    /// batches' (decoding the messages again fixes it), false when they are the same (retrying cannot help).
    /// <paramref name="changed"/> tells whether the read found the table changed.</summary>
    public bool ShouldRewind(TableSchema builtWith, CancellationToken stopping, out bool changed)
    {
        changed = Reload(stopping);
        return Schema.Describe != builtWith.Describe;
    }

    private bool AdoptIfChanged(TableSchema schema)
    {
        if (schema.Describe == Schema.Describe) return false;
        _logger.LogWarning("Target {Table} changed; new batches use its new columns", schema.Table);
        _metrics.SchemaChanged(schema.Table);
        Use(schema);
        return true;
    }

    private void Use(TableSchema schema)
    {
        Schema = schema;
        Decoder = new JsonRowDecoder(schema, _mapping);
        _logger.LogInformation("Target {Table}: {Columns}", schema.Table, string.Join(", ", schema.Columns.Select(c => $"{c.Name} {c.Type}")));
    }
}

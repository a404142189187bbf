using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Control;

namespace Ingest.Pipeline.Targets;

/// <summary>A table the pipeline inserts into: a seam, so the pipeline's state machine runs in unit tests against a
/// fake, and against ClickHouse (<see cref="ClickHouseTarget"/>) everywhere else.</summary>
internal interface IInsertTarget : IDisposable
{
    /// <summary>"database.table".</summary>
    string Table { get; }

    /// <summary>Returns once the server acknowledged every batch; throws <see cref="SchemaMismatchException"/> when the
    /// table changed under the batches, or another exception when retrying cannot help.</summary>
    Task InsertAsync(IReadOnlyList<PartitionBatch> batches, IReadOnlyDictionary<string, string>? settings, CancellationToken stopping);

    Task<TableSchema> LoadSchemaAsync(CancellationToken ct);

    /// <summary>Endpoints and what the last request to each found.</summary>
    TargetStatus Status { get; }
}

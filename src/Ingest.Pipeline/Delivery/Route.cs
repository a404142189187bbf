using System.Text.RegularExpressions;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Targets;

namespace Ingest.Pipeline.Delivery;

/// <summary>Topics into one table, with what that table needs: its target, its columns (Native) and its checkpoints.
/// Batches of different routes never share an INSERT. A route whose table refused rows for good is failed
/// (<see cref="Error"/>): its partitions wait, the other routes go on.</summary>
internal sealed class Route : IDisposable
{
    private readonly HashSet<string> _topics;
    private readonly Regex? _pattern;

    public Route(int index, string name, IReadOnlyList<string> topics, IInsertTarget target, SchemaTracker? schema, CheckpointLedger? checkpoints, Regex? pattern = null,
        Regions.OwnershipFollower? ownership = null)
    {
        Ownership = ownership;
        _pattern = pattern;
        Index = index;
        Name = name;
        Topics = topics;
        _topics = [.. topics];
        Target = target;
        Schema = schema;
        Checkpoints = checkpoints;
        Pool = schema is null ? new RowBufferPool(() => new JsonRowsBuffer(), null) : new RowBufferPool(NativeBuffer(schema), schema.Schema);
    }

    public int Index { get; }

    public string Name { get; }

    public IReadOnlyList<string> Topics { get; }

    public IInsertTarget Target { get; }

    /// <summary>Null for JSONEachRow (ClickHouse parses the JSON).</summary>
    public SchemaTracker? Schema { get; }

    /// <summary>Null when checkpoints are off.</summary>
    public CheckpointLedger? Checkpoints { get; }

    public RowBufferPool Pool { get; }

    /// <summary>Two-subcluster targets: who writes which partition; null for independent targets.</summary>
    public Regions.OwnershipFollower? Ownership { get; }

    /// <summary>Why the route stopped sending, while it is failed.</summary>
    public string? Error { get; set; }

    /// <summary>The target answered read-only (Keeper lost) and the route's partitions wait for it.</summary>
    public bool WaitsForWritable { get; set; }

    /// <summary>Its partitions being drained are far behind Kafka's end (kept by the pipeline with its status): its
    /// INSERTs are filled up before they go.</summary>
    public bool Behind { get; set; }

    public bool NeedsTimestamp => Schema?.Decoder.NeedsTimestamp == true;

    /// <summary>Named, or matching the route's pattern.</summary>
    public bool Takes(string topic) => _topics.Contains(topic) || _pattern?.IsMatch(topic) == true;

    /// <summary>New buffers decode into the table's current columns (open batches keep theirs and go out as they are).</summary>
    public void SchemaChanged() => Pool.Reset(NativeBuffer(Schema!), Schema!.Schema);

    private static Func<IRowBuffer> NativeBuffer(SchemaTracker tracker)
    {
        var (schema, decoder) = (tracker.Schema, tracker.Decoder);
        return () => new NativeRowBuffer(new ColumnBatch(schema), decoder);
    }

    public void Dispose()
    {
        Pool.Dispose();
        Target.Dispose();
        Ownership?.Dispose();
    }
}

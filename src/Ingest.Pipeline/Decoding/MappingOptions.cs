namespace Ingest.Pipeline.Decoding;

/// <summary>How JSON fields become columns. Bound from "Ingest:Mapping".</summary>
public sealed class MappingOptions
{
    /// <summary>Column name → JSON path ("a.b.c" walks nested objects). Columns not listed take the top-level
    /// field of their own name.</summary>
    public Dictionary<string, string> Columns { get; set; } = [];

    /// <summary>Reject a message that has a field no column takes (default: ignore such fields).</summary>
    public bool Strict { get; set; }

    /// <summary>Columns filled from the Kafka message itself, like the Kafka table engine's virtual columns: used
    /// when the table has a column of that name (an empty name turns one off). They also make reconciliation
    /// possible: every row names the message it came from.</summary>
    public ProvenanceColumns Provenance { get; set; } = new();
}

public sealed class ProvenanceColumns
{
    /// <summary>Topic name (String or LowCardinality(String)).</summary>
    public string Topic { get; set; } = "_topic";

    /// <summary>Partition number (any integer type).</summary>
    public string Partition { get; set; } = "_partition";

    /// <summary>Message offset (UInt64 or Int64).</summary>
    public string Offset { get; set; } = "_offset";

    /// <summary>Message timestamp (DateTime or DateTime64).</summary>
    public string Timestamp { get; set; } = "_timestamp";
}

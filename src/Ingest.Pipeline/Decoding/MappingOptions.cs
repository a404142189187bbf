namespace Ingest.Pipeline.Decoding;

/// <summary>How JSON fields become columns. Bound from "Ingest:Mapping".</summary>
public sealed class MappingOptions
{
    /// <summary>Column name → JSON path ("a.b.c" walks nested objects). Columns not listed take the top-level
    /// field of their own name.</summary>
    public Dictionary<string, string> Columns { get; set; } = [];

    /// <summary>Reject a message that has a field no column takes (default: ignore such fields).</summary>
    public bool Strict { get; set; }
}

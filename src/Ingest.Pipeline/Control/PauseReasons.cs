using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>Why a partition is not consumed. A partition is consumed only while its set is empty; each feature adds
/// and removes only its own reason, so, say, backpressure draining can never resume a partition an operator or a
/// backup point paused.</summary>
[Flags]
[JsonConverter(typeof(JsonStringEnumConverter<PauseReasons>))]
public enum PauseReasons
{
    None = 0,

    /// <summary>Too many bytes wait for ClickHouse (MaxInFlightBytes); lifted when half has drained.</summary>
    Backpressure = 1,

    /// <summary>Paused by an operator (admin API, <c>ingest pause</c>).</summary>
    Operator = 2,

    /// <summary>Held while a backup point is taken, so the backup and the checkpoints agree.</summary>
    Backup = 4,

    /// <summary>This region does not own the partition's data (two-subcluster targets: the other region writes it).</summary>
    NotOwned = 8,

    /// <summary>The route's target refuses writes (Keeper lost: read-only replicas); lifted once an INSERT lands.</summary>
    TargetReadOnly = 16,

    /// <summary>The route's table refused its rows for a reason retrying cannot fix (dropped, incompatible); the other
    /// routes go on. Lifted by an operator's resume once the table is fixed.</summary>
    TargetFailed = 32,
}

public static class PauseReasonNames
{
    private static readonly PauseReasons[] Each = [.. Enum.GetValues<PauseReasons>().Where(r => r != PauseReasons.None)];

    /// <summary>"backpressure", "operator", "backup", "not-owned", "target-read-only", "target-failed".</summary>
    public static string Name(this PauseReasons reason) => string.Join(",", reason.Names());

    /// <summary>Each reason in the set, by <see cref="Name"/>.</summary>
    public static IReadOnlyList<string> Names(this PauseReasons reasons) =>
        reasons == PauseReasons.None ? [] : [.. Each.Where(r => (reasons & r) != 0).Select(r => Kebab(r.ToString()))];

    private static string Kebab(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));
}

/// <summary>Reasons an operator may set and lift through the admin API; the others belong to the pipeline.</summary>
public static class ExternalPauseReasons
{
    /// <summary>Not not-owned: ownership is data in ClickHouse (claims with epochs); only takeover and failback change it.</summary>
    public const PauseReasons Allowed = PauseReasons.Operator | PauseReasons.Backup | PauseReasons.TargetFailed;

    /// <summary>Parses "operator", "backup", "target-failed" (case-insensitive); null when unknown or
    /// not settable from outside.</summary>
    public static PauseReasons? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return PauseReasons.Operator;
        var normalized = text.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
        return Enum.TryParse<PauseReasons>(normalized, ignoreCase: true, out var r) && r != PauseReasons.None && (r & ~Allowed) == 0 && IsSingle(r) ? r : null;
    }

    private static bool IsSingle(PauseReasons r) => ((int)r & ((int)r - 1)) == 0;
}

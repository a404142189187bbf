using System.Text.RegularExpressions;
using Ingest.Pipeline.Decoding;

namespace Ingest.Pipeline;

/// <summary>Topics into one table, with that table's own mapping, format and settings. Bound from
/// "Ingest:Routes:0..n"; when there is none, Ingest:Kafka:Topics → Ingest:ClickHouse:Table is the one route.</summary>
public sealed class RouteOptions
{
    /// <summary>Shown in status, logs and metrics; default: the table.</summary>
    public string Name { get; set; } = "";

    public string[] Topics { get; set; } = [];

    /// <summary>A regular expression (.NET and librdkafka's POSIX syntax agree on the usual subset): every topic whose
    /// whole name matches is taken, also topics created later.</summary>
    public string? TopicPattern { get; set; }

    /// <summary>"database.table".</summary>
    public string Table { get; set; } = "";

    /// <summary>Default: Ingest:ClickHouse:Format.</summary>
    public InsertFormat? Format { get; set; }

    /// <summary>ClickHouse settings for this table's INSERTs, over Ingest:ClickHouse:Settings.</summary>
    public Dictionary<string, string> Settings { get; set; } = [];

    /// <summary>Default: Ingest:Mapping.</summary>
    public MappingOptions? Mapping { get; set; }

    /// <summary>A target named under Ingest:Targets; default: Ingest:ClickHouse:Endpoints.</summary>
    public string? Target { get; set; }

    /// <summary>The whole-name regex of <see cref="TopicPattern"/>; null when there is none.</summary>
    internal Regex? PatternRegex() => TopicPattern is null ? null : new Regex($"^(?:{TopicPattern.TrimStart('^').TrimEnd('$')})$", RegexOptions.CultureInvariant);

    /// <summary>What librdkafka subscribes to for the pattern: a topic starting with '^' is a regex there.</summary>
    internal string? Subscription => TopicPattern is null ? null : $"^{TopicPattern.TrimStart('^').TrimEnd('$')}$";
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.Regions;

namespace Ingest.Pipeline;

/// <summary>What one region's worker consumes and where it writes. Bound from configuration section "Ingest".</summary>
public sealed class IngestOptions
{
    /// <summary>This worker's region (e.g. "a"). The consumer group is <c>{Kafka.Group}.{Region}</c>: each region
    /// consumes every message once into its own target ("dual ingest").</summary>
    public string Region { get; set; } = "";

    public KafkaOptions Kafka { get; set; } = new();

    public ClickHouseOptions ClickHouse { get; set; } = new();

    public BatchingOptions Batching { get; set; } = new();

    public Decoding.MappingOptions Mapping { get; set; } = new();

    public CheckpointOptions Checkpoints { get; set; } = new();

    /// <summary>How this worker takes the backup of a backup point it coordinates.</summary>
    public Backup.BackupOptions Backup { get; set; } = new();

    /// <summary>Several topic → table routes served by one consumer; empty: the single route of the shorthand
    /// (Kafka:Topics into ClickHouse:Table with Mapping).</summary>
    public RouteOptions[] Routes { get; set; } = [];

    /// <summary>Every region of the deployment (a two-subcluster target needs exactly two); this worker's
    /// <see cref="Region"/> is one of them.</summary>
    public string[] Regions { get; set; } = [];

    /// <summary>Named targets routes write into (Routes:n:Target, or ClickHouse:Target for the shorthand route); a
    /// route without one writes ClickHouse:Endpoints.</summary>
    public Dictionary<string, TargetOptions> Targets { get; set; } = [];

    /// <summary>The routes in effect, each complete (name, format, settings and mapping filled from the shared defaults).</summary>
    public IReadOnlyList<RouteOptions> EffectiveRoutes() =>
        Routes.Length == 0
            ? [new RouteOptions { Name = ClickHouse.Table, Topics = Kafka.Topics, Table = ClickHouse.Table, Format = ClickHouse.Format, Settings = ClickHouse.Settings, Mapping = Mapping, Target = ClickHouse.Target }]
            : [.. Routes.Select(r => new RouteOptions
            {
                Name = string.IsNullOrWhiteSpace(r.Name) ? r.Table : r.Name,
                Topics = r.Topics,
                TopicPattern = r.TopicPattern,
                Table = r.Table,
                Format = r.Format ?? ClickHouse.Format,
                Settings = new Dictionary<string, string>(ClickHouse.Settings.Concat(r.Settings).GroupBy(kv => kv.Key).Select(g => g.Last())),
                Mapping = r.Mapping ?? Mapping,
                Target = r.Target,
            })];

    /// <summary>The target <paramref name="route"/> writes (<see cref="RouteOptions.Target"/>), or null for
    /// ClickHouse:Endpoints.</summary>
    internal TargetOptions? TargetOf(RouteOptions route) =>
        route.Target is { } name && Targets.TryGetValue(name, out var target) ? target : null;

    /// <summary>What the consumer subscribes to: every route's topic names and patterns.</summary>
    public IReadOnlyList<string> Subscription() =>
        [.. EffectiveRoutes().SelectMany(r => r.Subscription is { } pattern ? r.Topics.Append(pattern) : r.Topics).Distinct()];

    /// <summary>Throws with a message naming every missing or invalid setting.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Region)) errors.Add("Ingest:Region is required (e.g. \"a\")");
        if (string.IsNullOrWhiteSpace(Kafka.BootstrapServers)) errors.Add("Ingest:Kafka:BootstrapServers is required");
        if (string.IsNullOrWhiteSpace(Kafka.Group)) errors.Add("Ingest:Kafka:Group is required");
        ValidateRoutes(errors);
        TargetValidation.Check(this, errors);
        // Only a route without a Target writes ClickHouse:Endpoints; other problems do not make them needed.
        if (ClickHouse.Endpoints.Length == 0 && EffectiveRoutes().Any(r => r.Target is null)) errors.Add("Ingest:ClickHouse:Endpoints needs at least one http(s) URL (or give every route a Target)");
        foreach (var e in ClickHouse.Endpoints)
        {
            if (!Uri.TryCreate(e, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https"))
                errors.Add($"Ingest:ClickHouse:Endpoints: '{e}' is not an http(s) URL");
        }
        ValidateCaCertificateFile(errors);
        if (Batching.MaxRows <= 0) errors.Add("Ingest:Batching:MaxRows must be > 0");
        if (Batching.MaxBytes <= 0) errors.Add("Ingest:Batching:MaxBytes must be > 0");
        if (Batching.MaxAge <= TimeSpan.Zero) errors.Add("Ingest:Batching:MaxAge must be > 0");
        if (Batching.MaxInFlightBytes < Batching.MaxBytes) errors.Add("Ingest:Batching:MaxInFlightBytes must be >= MaxBytes");
        if (Checkpoints.Table is { } ct && ct.Split('.').Length != 2) errors.Add("Ingest:Checkpoints:Table must be 'database.table'");
        if (ClickHouse.SchemaRefreshInterval < TimeSpan.Zero) errors.Add("Ingest:ClickHouse:SchemaRefreshInterval must be >= 0 (0 turns it off)");
        if (ClickHouse.MaxConcurrentInserts <= 0) errors.Add("Ingest:ClickHouse:MaxConcurrentInserts must be > 0");
        Backup.Validate(errors);
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid configuration:\n  " + string.Join("\n  ", errors));
    }

    private void ValidateRoutes(List<string> errors)
    {
        if (Routes.Length == 0)
        {
            if (Kafka.Topics.Length == 0 || Kafka.Topics.Any(string.IsNullOrWhiteSpace)) errors.Add("Ingest:Kafka:Topics needs at least one topic name (or give Ingest:Routes)");
            if (!IsTable(ClickHouse.Table)) errors.Add("Ingest:ClickHouse:Table must be 'database.table' (or give Ingest:Routes)");
            return;
        }
        // Both at once would leave it unclear which topics go where.
        if (Kafka.Topics.Length > 0) errors.Add("Ingest:Kafka:Topics cannot be used together with Ingest:Routes: list the topics in each route");
        if (!string.IsNullOrEmpty(ClickHouse.Table)) errors.Add("Ingest:ClickHouse:Table cannot be used together with Ingest:Routes: give each route its Table");
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Routes.Length; i++)
        {
            var r = Routes[i];
            var key = $"Ingest:Routes:{i}";
            if (!IsTable(r.Table)) errors.Add($"{key}:Table must be 'database.table'");
            if (r.Topics.Length == 0 && string.IsNullOrWhiteSpace(r.TopicPattern)) errors.Add($"{key} needs Topics or a TopicPattern");
            if (r.Topics.Any(string.IsNullOrWhiteSpace)) errors.Add($"{key}:Topics has an empty topic name");
            if (r.TopicPattern is { } pattern)
            {
                try
                {
                    _ = r.PatternRegex();
                }
                catch (ArgumentException e)
                {
                    errors.Add($"{key}:TopicPattern '{pattern}' is not a regular expression: {e.Message}");
                }
            }
            var name = string.IsNullOrWhiteSpace(r.Name) ? r.Table : r.Name;
            if (!names.Add(name)) errors.Add($"{key}:Name '{name}' is used by another route");
            foreach (var topic in r.Topics.Where(t => !string.IsNullOrWhiteSpace(t)))
            {
                if (!owner.TryAdd(topic, key)) errors.Add($"{key}:Topics: topic '{topic}' is already routed by {owner[topic]}; a topic goes into one table");
            }
        }
    }

    private static bool IsTable(string? table) => !string.IsNullOrWhiteSpace(table) && table.Split('.') is [{ Length: > 0 }, { Length: > 0 }];

    private void ValidateCaCertificateFile(List<string> errors)
    {
        var path = ClickHouse.CaCertificateFile;
        if (string.IsNullOrWhiteSpace(path)) return;
        // A CA that no endpoint uses is almost certainly a mistake (an http URL where https was meant).
        if (ClickHouse.Endpoints.Length > 0 && !ClickHouse.Endpoints.Any(e => Uri.TryCreate(e, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps))
            errors.Add($"Ingest:ClickHouse:CaCertificateFile is set ('{path}') but no endpoint in Ingest:ClickHouse:Endpoints is https; it only applies to https endpoints");
        try
        {
            var certificates = ClickHouse.LoadCaCertificates();
            foreach (var c in certificates!) c.Dispose();
        }
        catch (InvalidOperationException e)
        {
            errors.Add(e.Message);
        }
    }
}

public sealed class KafkaOptions
{
    public string BootstrapServers { get; set; } = "";

    /// <summary>Base consumer group; the region is appended.</summary>
    public string Group { get; set; } = "ingest";

    public string[] Topics { get; set; } = [];

    /// <summary>Static group membership (librdkafka group.instance.id, KIP-345): a member that restarts within the
    /// session timeout gets its partitions back without a rebalance. "{host}" is replaced by the host name (a
    /// StatefulSet pod's stable name). Every worker of a group needs its own: a second member with the same id fences
    /// the first. Empty: dynamic membership.</summary>
    public string? InstanceId { get; set; }

    /// <summary>Extra librdkafka properties (security.protocol, sasl.*, ...), passed through unchanged.</summary>
    public Dictionary<string, string> Properties { get; set; } = [];
}

public sealed class ClickHouseOptions
{
    /// <summary>HTTP(S) endpoints of the region's target; the first healthy one is used.</summary>
    public string[] Endpoints { get; set; } = [];

    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>Target as "database.table".</summary>
    public string Table { get; set; } = "";

    /// <summary>The shorthand route's named target (Ingest:Targets); null: <see cref="Endpoints"/>.</summary>
    public string? Target { get; set; }

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Native: Ingest decodes JSON into columns (fast, the default). JSONEachRow: ClickHouse parses the
    /// JSON (for types the Native writer does not cover).</summary>
    public InsertFormat Format { get; set; } = InsertFormat.Native;

    /// <summary>gzip the INSERT body (worth it across regions; costs CPU on the worker).</summary>
    public InsertCompression Compression { get; set; } = InsertCompression.None;

    /// <summary>Inserts in flight at once (across partitions; each partition has at most one).</summary>
    public int MaxConcurrentInserts { get; set; } = 4;

    /// <summary>How often the target table's columns are read again (Native format); a changed table is picked up
    /// by new batches. Zero turns the periodic check off (an INSERT refused for a schema reason still triggers one).</summary>
    public TimeSpan SchemaRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>ClickHouse settings sent with every INSERT (insert_quorum, insert_deduplicate, ...).</summary>
    public Dictionary<string, string> Settings { get; set; } = [];

    /// <summary>PEM file with the CA certificate(s) that sign the https endpoints' certificates (a private CA, a
    /// self-signed server). When set, only these CAs are trusted for https, not the system store; the host name is
    /// still checked. When null, the system trust store is used.</summary>
    public string? CaCertificateFile { get; set; }

    /// <summary>These options with one route's table, format and settings.</summary>
    internal ClickHouseOptions ForRoute(RouteOptions route, IReadOnlyList<string>? endpoints = null)
    {
        var copy = (ClickHouseOptions)MemberwiseClone();
        if (endpoints is not null) copy.Endpoints = [.. endpoints];
        copy.Table = route.Table;
        copy.Format = route.Format ?? Format;
        copy.Settings = route.Settings;
        return copy;
    }

    /// <summary>The certificates of <see cref="CaCertificateFile"/>, or null when it is not set. Throws
    /// <see cref="InvalidOperationException"/> naming the setting, the path and what is wrong with the file.</summary>
    internal X509Certificate2Collection? LoadCaCertificates()
    {
        var path = CaCertificateFile;
        if (string.IsNullOrWhiteSpace(path)) return null;
        if (!File.Exists(path)) throw Problem("does not exist");
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw Problem($"holds a PEM certificate that does not parse ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Problem($"cannot be read ({e.Message})", e);
        }
        // ImportFromPemFile skips whatever is not a CERTIFICATE block (keys, DER bytes, text) without complaint.
        if (certificates.Count == 0) throw Problem("holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)");
        return certificates;

        InvalidOperationException Problem(string what, Exception? inner = null) =>
            new($"Ingest:ClickHouse:CaCertificateFile: '{path}' {what}", inner);
    }
}

/// <summary>Where each partition's position lives (docs/exactly-once.md).</summary>
public sealed class CheckpointOptions
{
    /// <summary>On (the default): offsets are checkpointed in a ClickHouse table next to the data, written ahead of each
    /// insert, and a partition resumes from there (exactly-once). Off: Kafka's committed offsets only (at-least-once).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>"database.table" of the checkpoint table; default: ingest_checkpoints in the target's database.
    /// Created when missing.</summary>
    public string? Table { get; set; }

    /// <summary>ENGINE clause for creating the table; default: ReplacingMergeTree(version), or
    /// ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/&lt;db&gt;.&lt;table&gt;', '{replica}', version) when the
    /// target is replicated.</summary>
    public string? Engine { get; set; }
}

public enum InsertFormat
{
    Native,
    JSONEachRow,
}

public enum InsertCompression
{
    None,
    Gzip,
}

public sealed class BatchingOptions
{
    public int MaxRows { get; set; } = 100_000;

    public long MaxBytes { get; set; } = 16 * 1024 * 1024;

    public TimeSpan MaxAge { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Bytes of sealed batches not yet acknowledged by ClickHouse; above it, consumption pauses until
    /// half of it drains (bounded memory when ClickHouse is slow or down).</summary>
    public long MaxInFlightBytes { get; set; } = 256L * 1024 * 1024;
}

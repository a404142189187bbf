namespace Ingest.Pipeline.Backup;

/// <summary>How a backup point's backup is taken (Ingest:Backup). The worker that coordinates a backup point runs the
/// backend; the others only pause, flush and resume.</summary>
public sealed class BackupOptions
{
    /// <summary>freeze, sql, clickhouse-backup or command; empty: backup points cannot be created by this worker.</summary>
    public string Backend { get; set; } = "";

    /// <summary>How long the backend may run; past it the backend is aborted and ingest resumes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>"database.table" of the backup-point table; default: ingest_backup_points in each route's database.</summary>
    public string? Table { get; set; }

    public FreezeBackupOptions Freeze { get; set; } = new();

    public SqlBackupOptions Sql { get; set; } = new();

    public ClickHouseBackupOptions ClickHouseBackup { get; set; } = new();

    public CommandBackupOptions Command { get; set; } = new();

    public static readonly IReadOnlyList<string> BackendNames = ["freeze", "sql", "clickhouse-backup", "command"];

    /// <summary>Adds what is missing or wrong (naming the Ingest:Backup keys) to <paramref name="errors"/>.</summary>
    internal void Validate(List<string> errors)
    {
        if (Backend.Length > 0 && !BackendNames.Contains(Backend))
            errors.Add($"Ingest:Backup:Backend '{Backend}' is not one of {string.Join(", ", BackendNames)}");
        if (Timeout <= TimeSpan.Zero) errors.Add("Ingest:Backup:Timeout must be > 0");
        if (Table is { } t && t.Split('.') is not [{ Length: > 0 }, { Length: > 0 }]) errors.Add("Ingest:Backup:Table must be 'database.table'");
        // Only the chosen backend's keys: the others' defaults may be empty.
        switch (Backend)
        {
            case "freeze":
                if (string.IsNullOrWhiteSpace(Freeze.DataPath))
                    errors.Add("Ingest:Backup:Freeze:DataPath is required for the freeze backend (the server's data directory, its config's <path>, e.g. /var/lib/clickhouse)");
                if (Freeze.Endpoint is { } endpoint && !IsHttpUrl(endpoint))
                    errors.Add($"Ingest:Backup:Freeze:Endpoint must be an http(s) URL of the ClickHouse server whose data path that is, got '{endpoint}'");
                break;
            case "sql":
                if (!Sql.Destination.Contains("{name}", StringComparison.Ordinal))
                    errors.Add($"Ingest:Backup:Sql:Destination must contain {{name}} (each backup point's name), e.g. Disk('backups', '{{name}}'), got '{Sql.Destination}'");
                break;
            case "clickhouse-backup":
                if (!IsHttpUrl(ClickHouseBackup.Url))
                    errors.Add($"Ingest:Backup:ClickHouseBackup:Url must be an http(s) URL of clickhouse-backup's API (e.g. http://127.0.0.1:7171/), got '{ClickHouseBackup.Url}'");
                break;
            case "command":
                if (string.IsNullOrWhiteSpace(Command.Path))
                    errors.Add("Ingest:Backup:Command:Path is required for the command backend (the program to run)");
                break;
        }
    }

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps);
}

/// <summary>ALTER TABLE … FREEZE on one server whose data directory this process can reach (a sidecar next to it).</summary>
public sealed class FreezeBackupOptions
{
    /// <summary>The server's data path (its config's &lt;path&gt;, e.g. /var/lib/clickhouse).</summary>
    public string DataPath { get; set; } = "";

    /// <summary>The HTTP endpoint of that server; default: the first of Ingest:ClickHouse:Endpoints.</summary>
    public string? Endpoint { get; set; }
}

/// <summary>SQL BACKUP … TO &lt;destination&gt; ASYNC (ClickHouse 22.x and later), polled in system.backups.</summary>
public sealed class SqlBackupOptions
{
    /// <summary>The BACKUP destination with {name} for the point's name, e.g. <c>Disk('backups', '{name}.zip')</c>.</summary>
    public string Destination { get; set; } = "Disk('backups', '{name}')";
}

/// <summary>clickhouse-backup's REST API (its API server next to each ClickHouse server).</summary>
public sealed class ClickHouseBackupOptions
{
    public string Url { get; set; } = "";

    public string? User { get; set; }

    public string? Password { get; set; }
}

/// <summary>An external program; the point's name and positions are in its environment.</summary>
public sealed class CommandBackupOptions
{
    public string Path { get; set; } = "";

    public string[] Arguments { get; set; } = [];
}

using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Backup;

/// <summary>What a mutating call answers before the work runs in the background (create: 201, restore/upload/download:
/// 200): <c>{"status":"acknowledged","operation":"create","backup_name":"N","operation_id":"&lt;uuid&gt;"}</c>. The id
/// is what <see cref="ClickHouseBackupClient.WaitAsync"/> polls by.</summary>
internal sealed record BackupAcknowledgement(
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("operation")] string? Operation,
    [property: JsonPropertyName("backup_name")] string? BackupName,
    [property: JsonPropertyName("operation_id")] string? OperationId);

/// <summary>One row of <c>/backup/status</c> or <c>/backup/actions</c>. <see cref="Error"/>, <see cref="Finish"/> and
/// <see cref="OperationId"/> are only present once set; times are the server's local time
/// (<c>2006-01-02 15:04:05</c>, no zone), so they are kept as text.</summary>
internal sealed record BackupAction(
    [property: JsonPropertyName("command")] string? Command,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("start")] string? Start,
    [property: JsonPropertyName("finish")] string? Finish,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("operation_id")] string? OperationId)
{
    public const string InProgress = "in progress";
    public const string Success = "success";

    public bool IsInProgress => Status == InProgress;

    public bool Succeeded => Status == Success;
}

/// <summary>One row of <c>/backup/list</c>: sizes are absent when zero (the server's <c>omitempty</c>); <see cref="Desc"/>
/// carries why a backup is broken; <see cref="Required"/> names the backup an incremental one depends on.</summary>
internal sealed record BackupListEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("created")] string? Created,
    [property: JsonPropertyName("size")] ulong Size,
    [property: JsonPropertyName("data_size")] ulong DataSize,
    [property: JsonPropertyName("metadata_size")] ulong MetadataSize,
    [property: JsonPropertyName("compressed_size")] ulong CompressedSize,
    [property: JsonPropertyName("location")] string? Location,
    [property: JsonPropertyName("required")] string? Required,
    [property: JsonPropertyName("desc")] string? Desc);

/// <summary>The error row every route answers with on 400/404/405/423/500:
/// <c>{"status":"error","operation":"&lt;cmd&gt;","error":"&lt;text&gt;"}</c>.</summary>
internal sealed record BackupErrorRow(
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("operation")] string? Operation,
    [property: JsonPropertyName("error")] string? Error);

internal sealed record BackupVersion([property: JsonPropertyName("version")] string? Version);

/// <summary>Which backups <see cref="ClickHouseBackupClient.ListAsync"/> reads: <c>/backup/list</c>,
/// <c>/backup/list/local</c> or <c>/backup/list/remote</c>.</summary>
internal enum BackupLocation
{
    All,
    Local,
    Remote,
}

/// <summary>Switches of <c>/backup/create</c>. Each true one is sent as a key without value: the server tests presence,
/// so <c>schema=false</c> would still mean schema-only.</summary>
internal sealed record BackupCreateOptions
{
    /// <summary><c>partitions=</c>: only these partitions (the server's syntax, passed as is).</summary>
    public string? Partitions { get; init; }

    /// <summary><c>schema</c>: tables' schema only, no data.</summary>
    public bool SchemaOnly { get; init; }

    /// <summary><c>rbac</c>: users, roles, quotas too.</summary>
    public bool Rbac { get; init; }

    /// <summary><c>configs</c>: ClickHouse's configuration files too.</summary>
    public bool Configs { get; init; }
}

/// <summary>How <c>/backup/restore/{name}</c> treats what exists. <see cref="DropExisting"/> sends <c>drop</c> (the
/// server's alias <c>rm</c> means the same); <see cref="SchemaOnly"/> and <see cref="DataOnly"/> exclude each other.</summary>
internal sealed record BackupRestoreOptions
{
    /// <summary><c>table=</c>: only these tables (<c>db.t</c>, patterns as the server accepts them).</summary>
    public IReadOnlyList<string>? Tables { get; init; }

    /// <summary><c>drop</c>: drop the tables before restoring them.</summary>
    public bool DropExisting { get; init; }

    /// <summary><c>schema</c>: create the tables only.</summary>
    public bool SchemaOnly { get; init; }

    /// <summary><c>data</c>: attach the data into existing tables only.</summary>
    public bool DataOnly { get; init; }

    /// <summary><c>rbac</c>.</summary>
    public bool Rbac { get; init; }
}

/// <summary>Newline-delimited rows are parsed one line at a time with this generated metadata (no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(BackupAcknowledgement))]
[JsonSerializable(typeof(BackupAction))]
[JsonSerializable(typeof(BackupListEntry))]
[JsonSerializable(typeof(BackupErrorRow))]
[JsonSerializable(typeof(BackupVersion))]
internal sealed partial class BackupJsonContext : JsonSerializerContext;

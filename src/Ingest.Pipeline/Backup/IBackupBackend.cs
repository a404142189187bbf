namespace Ingest.Pipeline.Backup;

/// <summary>What a backend backs up or restores: the backup's name (the backup point's name), the tables as
/// <c>db.table</c> (data, checkpoint and backup-point tables), and the point itself for backends that pass the
/// positions on (the external command).</summary>
internal sealed record BackupRequest(string Name, IReadOnlyList<string> Tables, BackupPoint Point);

/// <summary>What a backend did, in one line for the point's record and the CLI (e.g. "froze 3 tables, 12 parts").</summary>
internal sealed record BackupResult(string Detail);

/// <summary>One way of taking (and restoring) the backup of a backup point: FREEZE, SQL BACKUP, clickhouse-backup's
/// REST API, or an external command. The coordinator has paused ingest and synced the replicas before it calls
/// <see cref="BackupAsync"/>; whatever happens, it resumes ingest afterwards.</summary>
internal interface IBackupBackend
{
    /// <summary>"freeze", "sql", "clickhouse-backup" or "command": recorded in the point.</summary>
    string Name { get; }

    /// <summary>Takes the backup. Cancelled (the point's timeout, or the caller): aborts what it started (kills the
    /// process, the server-side operation) before throwing <see cref="OperationCanceledException"/>. Any failure throws
    /// with a message naming what failed.</summary>
    Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct);

    /// <summary>Restores <paramref name="request"/>'s tables from the backup of that name: each table must be missing
    /// or empty (the backend creates a missing one from the schema the backup holds); refuses a table that holds rows.</summary>
    Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct);
}

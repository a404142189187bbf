using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>Builds the backend Ingest:Backup:Backend names from validated options.</summary>
internal static class BackupBackends
{
    /// <summary>The configured backend; it owns the clients it was given here, so dispose it (the freeze and
    /// clickhouse-backup backends are <see cref="IDisposable"/>) when done. Freeze: Ingest:Backup:Freeze:Endpoint, or the
    /// first of Ingest:ClickHouse:Endpoints, with Ingest:ClickHouse's user, password, timeout and CA file. SQL: the first
    /// endpoint, the same way. Throws when no backend is configured.</summary>
    public static IBackupBackend Create(IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var backup = options.Backup;
        return backup.Backend switch
        {
            "freeze" => new FreezeBackupBackend(Client(options, backup.Freeze.Endpoint), backup.Freeze.DataPath, ownsClient: true),
            "sql" => new SqlBackupBackend(new HttpSqlRunner(Client(options, null)), backup.Sql.Destination),
            "clickhouse-backup" => new ClickHouseBackupBackend(
                new ClickHouseBackupClient(new Uri(backup.ClickHouseBackup.Url), backup.ClickHouseBackup.User, backup.ClickHouseBackup.Password),
                backup.Timeout, ownsClient: true),
            "command" => new CommandBackupBackend(backup.Command.Path, backup.Command.Arguments),
            "" => throw new InvalidOperationException("Ingest:Backup:Backend is not set: this worker cannot take backups (freeze, sql, clickhouse-backup or command)"),
            var other => throw new InvalidOperationException($"Ingest:Backup:Backend '{other}' is not one of {string.Join(", ", BackupOptions.BackendNames)}"),
        };
    }

    private static ClickHouseHttpClient Client(IngestOptions options, string? endpoint)
    {
        var ch = options.ClickHouse;
        endpoint ??= ch.Endpoints.FirstOrDefault()
            ?? throw new InvalidOperationException("Ingest:ClickHouse:Endpoints is empty: the backup backend has no server to talk to");
        return new ClickHouseHttpClient(new Uri(endpoint), ch.User, ch.Password, ch.RequestTimeout, caCertificates: ch.LoadCaCertificates());
    }
}

using System.Text;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>The "freeze" backend: <see cref="FreezeBackend"/> on one server whose data directory
/// (<paramref name="dataPath"/>) this process reaches, so it runs next to that server, as the server's user (see
/// <see cref="FreezeBackend"/>). Besides the frozen parts it keeps each table's <c>SHOW CREATE TABLE</c> under
/// <c>shadow/&lt;name&gt;/metadata/&lt;db&gt;/&lt;table&gt;.sql</c> (names escaped as the server escapes them, the layout
/// clickhouse-backup uses) so a restore can recreate a dropped table. The client is owned when
/// <paramref name="ownsClient"/>.</summary>
internal sealed class FreezeBackupBackend(ClickHouseHttpClient client, string dataPath, bool ownsClient = false) : IBackupBackend, IDisposable
{
    private readonly FreezeBackend _freeze = new();
    private readonly HttpSqlRunner _sql = new(client);

    public string Name => "freeze";

    public string DataPath { get; } = string.IsNullOrWhiteSpace(dataPath)
        ? throw new ArgumentException("the freeze backend needs the server's data path (Ingest:Backup:Freeze:DataPath)", nameof(dataPath))
        : dataPath;

    /// <summary>Where the schema of <paramref name="table"/> in backup <paramref name="backupName"/> is kept.</summary>
    public string SchemaFile(string backupName, string table)
    {
        var (db, name) = FreezeBackend.ParseTable(table);
        return Path.Combine(FreezeBackend.ShadowRoot(DataPath, backupName), "metadata", FreezeBackend.EscapeForFileName(db),
            FreezeBackend.EscapeForFileName(name) + ".sql");
    }

    public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        FreezeBackend.ValidateBackupName(request.Name);
        if (request.Tables.Count == 0) throw new ArgumentException("a backup needs at least one table", nameof(request));
        var root = FreezeBackend.ShadowRoot(DataPath, request.Name);
        if (Directory.Exists(root)) throw new FreezeBackendException($"a backup named '{request.Name}' already exists under {root}");

        // Schemas first: a table that is not there fails the backup before anything is frozen.
        var schemas = new List<(string Table, string Create)>(request.Tables.Count);
        foreach (var table in request.Tables)
        {
            var (db, name) = FreezeBackend.ParseTable(table);
            var create = (await client.QueryAsync($"SHOW CREATE TABLE {FreezeBackend.Quote(db)}.{FreezeBackend.Quote(name)} FORMAT TabSeparatedRaw", ct: ct)
                .ConfigureAwait(false)).TrimEnd('\n');
            schemas.Add((table, create));
        }

        try
        {
            var frozen = await _freeze.FreezeAsync(client, DataPath, request.Name, request.Tables, ct).ConfigureAwait(false);
            foreach (var (table, create) in schemas)
            {
                var file = SchemaFile(request.Name, table);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                await File.WriteAllTextAsync(file, create + "\n", Encoding.UTF8, CancellationToken.None).ConfigureAwait(false);
            }
            var parts = frozen.Sum(t => t.Parts.Count);
            return new BackupResult($"froze {frozen.Count} tables ({parts} parts) on {client.Endpoint.Authority}");
        }
        catch
        {
            // A backup cut short (cancelled between tables, a FREEZE refused) holds some tables only: removed so that it
            // cannot be restored as if it were whole. The directory did not exist before: it is this backup's.
            await _freeze.DeleteAsync(DataPath, request.Name, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Checks every table first (missing, or empty), then creates the missing ones from the saved schema and
    /// attaches the frozen parts.</summary>
    public async Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        FreezeBackend.ValidateBackupName(request.Name);
        var root = FreezeBackend.ShadowRoot(DataPath, request.Name);
        if (!Directory.Exists(root))
            throw new FreezeBackendException($"no backup named '{request.Name}' under {Path.Combine(DataPath, "shadow")} on {client.Endpoint.Authority}");

        var missing = new List<string>();
        foreach (var table in request.Tables)
        {
            if (await RestoreTarget.RequireMissingOrEmptyAsync(_sql, table, ct).ConfigureAwait(false)) continue;
            if (!File.Exists(SchemaFile(request.Name, table)))
                throw new FreezeBackendException(
                    $"{table} is missing on {client.Endpoint.Authority} and backup '{request.Name}' holds no schema for it ({SchemaFile(request.Name, table)}): create the table, then restore");
            missing.Add(table);
        }

        long parts = 0, rows = 0;
        foreach (var table in request.Tables)
        {
            ct.ThrowIfCancellationRequested();
            if (missing.Contains(table))
                await client.ExecuteAsync(await File.ReadAllTextAsync(SchemaFile(request.Name, table), ct).ConfigureAwait(false), ct: ct).ConfigureAwait(false);
            var (db, name) = FreezeBackend.ParseTable(table);
            // A table that was empty at the freeze left no part directory (FreezeAsync): nothing to attach.
            if (!Directory.Exists(FreezeBackend.ShadowTable(DataPath, request.Name, db, name))) continue;
            var restored = await _freeze.RestoreAsync(client, DataPath, request.Name, table, ct).ConfigureAwait(false);
            parts += restored.Parts.Count;
            rows += restored.Rows;
        }
        return new BackupResult(
            $"restored {request.Tables.Count} tables ({parts} parts, {rows} rows; {missing.Count} created from the backup's schema) on {client.Endpoint.Authority}");
    }

    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }
}

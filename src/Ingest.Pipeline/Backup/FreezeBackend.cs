using System.Globalization;
using System.Text;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>The parts one table had when it was frozen (<see cref="FreezeBackend.FreezeAsync"/>).</summary>
internal sealed record FrozenTable(string Table, IReadOnlyList<string> Parts);

/// <summary>What <see cref="FreezeBackend.RestoreAsync"/> attached: the parts and the rows they hold (from each
/// part's <c>count.txt</c>).</summary>
internal sealed record RestoredTable(string Table, IReadOnlyList<string> Parts, long Rows);

/// <summary>A backup or restore the FREEZE backend refused or could not finish.</summary>
internal sealed class FreezeBackendException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Backups by <c>ALTER TABLE ... FREEZE WITH NAME</c> on ClickHouse 18.16: the server hard-links every part of
/// the table under <c>&lt;data path&gt;/shadow/&lt;name&gt;/data/&lt;db&gt;/&lt;table&gt;/&lt;part&gt;/</c>; a restore
/// copies those part directories into the (recreated) table's <c>detached/</c> and runs <c>ATTACH PART</c> for each.
/// <para>It needs the server's data directory (the server's <c>&lt;path&gt;</c>) on the file system it runs on, so it
/// runs where that directory is reachable: a sidecar next to each server, like clickhouse-backup, one backup per
/// replica. It checks that the given data path holds the table's data directory
/// (<c>&lt;data path&gt;/data/&lt;db&gt;/&lt;table&gt;</c>) and refuses otherwise — a wrong path would otherwise
/// "succeed" with no parts. Copied files are created by this process (File.Copy keeps the frozen files' modes): run it as the
/// server's user (or one whose files that user can read and rename) so the server can ATTACH them.</para>
/// <para>Database and table names are escaped in paths as 18.16's <c>escapeForFileName</c> does (ASCII letters,
/// digits and '_' kept, every other byte as %XX), and so is the backup name in <c>shadow/</c> (measured: 'fz-1' is
/// <c>shadow/fz%2D1</c>); the tests exercise plain names and a table name with '-'. Tables are named
/// <c>db.table</c> without quoting; the names may not contain backquotes or dots inside a part.</para></summary>
internal sealed class FreezeBackend
{
    /// <summary>Runs <c>ALTER TABLE db.t FREEZE WITH NAME '<paramref name="backupName"/>'</c> for each table (in order)
    /// and returns the part directories the freeze left under the shadow directory for each.</summary>
    public async Task<IReadOnlyList<FrozenTable>> FreezeAsync(ClickHouseHttpClient client, string dataPath, string backupName,
        IReadOnlyList<string> tables, CancellationToken ct = default)
    {
        ValidateBackupName(backupName);
        var names = tables.Select(ParseTable).ToList();
        foreach (var (db, table) in names) RequireTableDirectory(dataPath, db, table);
        if (Directory.Exists(ShadowRoot(dataPath, backupName)))
            throw new FreezeBackendException($"a backup named '{backupName}' already exists under {ShadowRoot(dataPath, backupName)}");

        var frozen = new List<FrozenTable>(names.Count);
        foreach (var (db, table) in names)
        {
            // A FREEZE is short (hard links); between tables is where a cancelled backup stops.
            ct.ThrowIfCancellationRequested();
            await client.ExecuteAsync($"ALTER TABLE {Quote(db)}.{Quote(table)} FREEZE WITH NAME '{backupName}'", ct: ct).ConfigureAwait(false);
            var dir = ShadowTable(dataPath, backupName, db, table);
            // An empty table freezes nothing and leaves no directory: that is a backup of no parts, not an error.
            var parts = Directory.Exists(dir) ? ListParts(dir) : [];
            frozen.Add(new FrozenTable($"{db}.{table}", parts));
        }
        return frozen;
    }

    /// <summary>Copies every part <paramref name="table"/> had in backup <paramref name="backupName"/> into the table's
    /// <c>detached/</c> and attaches it. The table must exist with the frozen schema (the caller recreates it); rows it
    /// already holds are kept, so restore into an empty table.</summary>
    public async Task<RestoredTable> RestoreAsync(ClickHouseHttpClient client, string dataPath, string backupName, string table,
        CancellationToken ct = default)
    {
        ValidateBackupName(backupName);
        var (db, name) = ParseTable(table);
        var tableDir = RequireTableDirectory(dataPath, db, name);
        if (!Directory.Exists(ShadowRoot(dataPath, backupName)))
            throw new FreezeBackendException($"no backup named '{backupName}' under {Path.Combine(dataPath, "shadow")}");
        var source = ShadowTable(dataPath, backupName, db, name);
        if (!Directory.Exists(source))
            throw new FreezeBackendException($"backup '{backupName}' has no table {db}.{name} (no {source})");

        var parts = ListParts(source);
        var detached = Path.Combine(tableDir, "detached");
        Directory.CreateDirectory(detached);
        long rows = 0;
        foreach (var part in parts)
        {
            var target = Path.Combine(detached, part);
            if (Directory.Exists(target))
                throw new FreezeBackendException($"{target} already exists: a detached part of that name is in the way");
            CopyDirectory(Path.Combine(source, part), target);
            rows += ReadCount(target);
            await client.ExecuteAsync($"ALTER TABLE {Quote(db)}.{Quote(name)} ATTACH PART '{part}'", ct: ct).ConfigureAwait(false);
        }
        return new RestoredTable($"{db}.{name}", parts, rows);
    }

    /// <summary>Removes the shadow directory of backup <paramref name="backupName"/>; false when there was none.</summary>
    public Task<bool> DeleteAsync(string dataPath, string backupName, CancellationToken ct = default)
    {
        ValidateBackupName(backupName);
        var root = ShadowRoot(dataPath, backupName);
        return Task.Run(() =>
        {
            if (!Directory.Exists(root)) return false;
            Directory.Delete(root, recursive: true);
            return true;
        }, ct);
    }

    /// <summary>Names end up in a path and inside a SQL string literal: no separators, no parent steps, no quotes.</summary>
    internal static void ValidateBackupName(string backupName)
    {
        if (string.IsNullOrWhiteSpace(backupName) || backupName is "." or ".." || backupName.Contains("..", StringComparison.Ordinal)
            || backupName.IndexOfAny(['/', '\\', '\'', '"', '`', '\0', '\n', '\r']) >= 0)
            throw new ArgumentException($"invalid backup name '{backupName}': no '/', '\\', '..', quotes or control characters", nameof(backupName));
    }

    /// <summary>"db.table" → (db, table); both parts non-empty, no backquotes.</summary>
    internal static (string Db, string Table) ParseTable(string table)
    {
        var dot = table.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == table.Length - 1 || table.IndexOf('.', dot + 1) >= 0 || table.Contains('`', StringComparison.Ordinal))
            throw new ArgumentException($"table '{table}' must be named as db.table", nameof(table));
        return (table[..dot], table[(dot + 1)..]);
    }

    /// <summary>ClickHouse's escapeForFileName: [A-Za-z0-9_] kept, every other UTF-8 byte as %XX (upper-case hex).</summary>
    internal static string EscapeForFileName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_')
                sb.Append((char)b);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    internal static string Quote(string identifier) => $"`{identifier}`";

    internal static string ShadowRoot(string dataPath, string backupName) => Path.Combine(dataPath, "shadow", EscapeForFileName(backupName));

    internal static string ShadowTable(string dataPath, string backupName, string db, string table) =>
        Path.Combine(ShadowRoot(dataPath, backupName), "data", EscapeForFileName(db), EscapeForFileName(table));

    private static string RequireTableDirectory(string dataPath, string db, string table)
    {
        var dir = Path.Combine(dataPath, "data", EscapeForFileName(db), EscapeForFileName(table));
        if (!Directory.Exists(dir))
            throw new FreezeBackendException(
                $"{dataPath} does not hold the data of {db}.{table} ({dir} is missing): the FREEZE backend must run where the server's data directory is, with that directory as its data path");
        return dir;
    }

    private static List<string> ListParts(string dir)
    {
        var parts = Directory.GetDirectories(dir).Select(Path.GetFileName).OfType<string>().ToList();
        foreach (var part in parts)
        {
            if (part.IndexOfAny(['\'', '\\', '`']) >= 0)
                throw new FreezeBackendException($"unexpected part directory name '{part}' in {dir}");
        }
        parts.Sort(StringComparer.Ordinal);
        return parts;
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        // File.Copy keeps the source's permission bits on Unix; the owner is this process's user.
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(source))
            CopyDirectory(sub, Path.Combine(target, Path.GetFileName(sub)));
    }

    /// <summary>Rows in a part, from its count.txt (written by 18.16 for custom-partitioned MergeTree parts); 0 when
    /// the part has none.</summary>
    private static long ReadCount(string partDir)
    {
        var file = Path.Combine(partDir, "count.txt");
        return File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }
}

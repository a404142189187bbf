using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Ingest.Pipeline.Backup;

/// <summary>A backup or restore an external command failed.</summary>
internal sealed class CommandBackupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The "command" backend: runs <paramref name="path"/> with <paramref name="arguments"/> (no shell in between)
/// and tells it what to do in its environment: INGEST_BACKUP_ACTION (backup|restore), INGEST_BACKUP_NAME,
/// INGEST_BACKUP_REGION, INGEST_BACKUP_GROUP, INGEST_BACKUP_TABLES (db.table, comma-separated) and
/// INGEST_BACKUP_POSITIONS (a line per partition: topic, partition, table, committed offset, tab-separated). Exit 0 is
/// success, its detail the last line it printed; anything else fails naming the command, the exit code and the last
/// lines of its stderr. Cancelled: the command and everything it started are killed.</summary>
internal sealed class CommandBackupBackend(string path, IReadOnlyList<string> arguments) : IBackupBackend
{
    private const int MaxDetail = 200;
    private const int KeptLines = 10;

    /// <summary>After the exit, how long the output may still take to drain: a background child that inherited the pipes
    /// would otherwise hold the backup open.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    public string Name => "command";

    public string Path { get; } = string.IsNullOrWhiteSpace(path)
        ? throw new ArgumentException("the command backend needs a program to run (Ingest:Backup:Command:Path)", nameof(path))
        : path;

    public Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct) => RunAsync("backup", request, ct);

    public Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct) => RunAsync("restore", request, ct);

    /// <summary>The environment the command gets for <paramref name="request"/>.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string action, BackupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var positions = new StringBuilder();
        foreach (var p in request.Point.Positions)
            positions.Append(CultureInfo.InvariantCulture, $"{p.Topic}\t{p.Partition}\t{p.Table}\t{p.Committed}\n");
        return new Dictionary<string, string>
        {
            ["INGEST_BACKUP_ACTION"] = action,
            ["INGEST_BACKUP_NAME"] = request.Name,
            ["INGEST_BACKUP_REGION"] = request.Point.Region,
            ["INGEST_BACKUP_GROUP"] = request.Point.ConsumerGroup,
            ["INGEST_BACKUP_TABLES"] = string.Join(',', request.Tables),
            ["INGEST_BACKUP_POSITIONS"] = positions.ToString(),
        };
    }

    private async Task<BackupResult> RunAsync(string action, BackupRequest request, CancellationToken ct)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (key, value) in Environment(action, request)) start.Environment[key] = value;
        ct.ThrowIfCancellationRequested();

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new CommandBackupException($"backup command {Describe()} could not be started: {e.Message}", e);
        }
        var stdout = new LastLines(KeptLines);
        var stderr = new LastLines(KeptLines);
        var reading = Task.WhenAll(stdout.ReadAsync(process.StandardOutput), stderr.ReadAsync(process.StandardError));

        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            // The whole tree: a script's children (the actual copy) would otherwise keep running after the backup point
            // gave up on it.
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the cancel and the kill: nothing left to stop.
            }
            await Drain(process.WaitForExitAsync(CancellationToken.None)).ConfigureAwait(false);
            throw new OperationCanceledException($"backup command {Describe()} ({action} '{request.Name}') was cancelled and killed", e, ct);
        }
        await Drain(reading).ConfigureAwait(false);

        if (process.ExitCode != 0)
        {
            var errors = stderr.Text();
            throw new CommandBackupException(
                $"backup command {Describe()} ({action} '{request.Name}') exited {process.ExitCode}: {(errors.Length > 0 ? errors : "(nothing on stderr)")}");
        }
        var last = stdout.Last()?.Trim();
        return new BackupResult(string.IsNullOrEmpty(last) ? "command exited 0" : last.Length > MaxDetail ? last[..MaxDetail] : last);
    }

    private static async Task Drain(Task reading)
    {
        try
        {
            await reading.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Something the command left behind still holds its output (or a killed process is slow to go): what was
            // read is what there is.
        }
    }

    private string Describe() => arguments.Count == 0 ? Path : $"{Path} {string.Join(' ', arguments)}";

    /// <summary>The last non-empty lines of a stream, read to its end.</summary>
    private sealed class LastLines(int keep)
    {
        private readonly Queue<string> _lines = new();
        private readonly Lock _gate = new();

        public async Task ReadAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line.Trim().Length == 0) continue;
                lock (_gate)
                {
                    _lines.Enqueue(line);
                    if (_lines.Count > keep) _lines.Dequeue();
                }
            }
        }

        public string? Last()
        {
            lock (_gate) return _lines.LastOrDefault();
        }

        public string Text()
        {
            lock (_gate) return string.Join(" | ", _lines.Select(l => l.Trim()));
        }
    }
}

using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>The command backend running real /bin/sh scripts.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CommandBackupBackendTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingest-command-backend-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Script(string name, string body)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [Fact]
    public async Task Exit_0_is_success_with_the_last_stdout_line_and_the_command_sees_the_point_in_its_environment()
    {
        var seen = Path.Combine(_dir, "seen");
        var script = Script("ok.sh", $$"""
            { echo "args=$1,$2"; echo "action=$INGEST_BACKUP_ACTION"; echo "name=$INGEST_BACKUP_NAME"; echo "region=$INGEST_BACKUP_REGION"
               echo "group=$INGEST_BACKUP_GROUP"; echo "tables=$INGEST_BACKUP_TABLES"; printf '%s' "$INGEST_BACKUP_POSITIONS"; } > '{{seen}}'
            echo "copying..."
            echo "  uploaded 3 tables to s3://bucket/bp-1  "
            echo "a warning" >&2
            """);
        var backend = new CommandBackupBackend(script, ["--to", "s3"]);

        var result = await backend.BackupAsync(BackupBackendTestData.Request("bp-1", "db.events", "db.cp"), CancellationToken.None);

        Assert.Equal("uploaded 3 tables to s3://bucket/bp-1", result.Detail);
        Assert.Equal(
            "args=--to,s3\naction=backup\nname=bp-1\nregion=eu\ngroup=events.eu\ntables=db.events,db.cp\n" +
            "events\t0\tdb.events\t1200\nevents\t1\tdb.events\t7\n",
            File.ReadAllText(seen));

        await backend.RestoreAsync(BackupBackendTestData.Request("bp-1", "db.events"), CancellationToken.None);
        Assert.Contains("action=restore\n", File.ReadAllText(seen));
    }

    [Fact]
    public async Task A_silent_success_says_the_command_exited_0_and_a_long_line_is_cut_to_200_characters()
    {
        Assert.Equal("command exited 0",
            (await new CommandBackupBackend(Script("quiet.sh", "true"), []).BackupAsync(BackupBackendTestData.Request("q", "db.t"), CancellationToken.None)).Detail);
        var longLine = new string('x', 300);
        Assert.Equal(new string('x', 200),
            (await new CommandBackupBackend(Script("long.sh", $"echo {longLine}"), []).BackupAsync(BackupBackendTestData.Request("q", "db.t"), CancellationToken.None)).Detail);
    }

    [Fact]
    public async Task A_non_zero_exit_fails_naming_the_command_the_exit_code_and_its_last_stderr_lines()
    {
        var script = Script("fail.sh", """
            echo "starting"
            echo "first problem" >&2
            echo "upload failed: bucket not found" >&2
            exit 3
            """);

        var e = await Assert.ThrowsAsync<CommandBackupException>(() =>
            new CommandBackupBackend(script, []).BackupAsync(BackupBackendTestData.Request("bp-f", "db.t"), CancellationToken.None));

        Assert.Contains(script, e.Message);
        Assert.Contains("exited 3", e.Message);
        Assert.Contains("upload failed: bucket not found", e.Message);
        Assert.Contains("first problem", e.Message);
        Assert.DoesNotContain("starting", e.Message);
    }

    [Fact]
    public async Task A_program_that_does_not_exist_is_named_in_the_error()
    {
        var missing = Path.Combine(_dir, "no-such-program");
        var e = await Assert.ThrowsAsync<CommandBackupException>(() =>
            new CommandBackupBackend(missing, []).BackupAsync(BackupBackendTestData.Request("bp", "db.t"), CancellationToken.None));
        Assert.Contains(missing, e.Message);
        Assert.Contains("could not be started", e.Message);
    }

    [Fact]
    public async Task Cancelled_the_command_and_the_children_it_started_are_killed()
    {
        var pids = Path.Combine(_dir, "pids");
        var script = Script("slow.sh", $"""
            sleep 300 &
            echo "$$ $!" > '{pids}.tmp' && mv '{pids}.tmp' '{pids}'
            wait
            """);
        using var cts = new CancellationTokenSource();
        var run = new CommandBackupBackend(script, []).BackupAsync(BackupBackendTestData.Request("bp-slow", "db.t"), cts.Token);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(pids) && DateTime.UtcNow < deadline) await Task.Delay(20);
        var ids = File.ReadAllText(pids).Split(' ', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        Assert.True(Alive(ids[0]) && Alive(ids[1]), "the script and its sleep run before the cancel");

        await cts.CancelAsync();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.Contains("killed", e.Message);
        Assert.False(Alive(ids[0]), $"the script {ids[0]} still runs");
        // The child is reparented when its parent dies; killing the tree got it too (a zombie awaiting its reaper is dead).
        var child = await WaitUntilDeadAsync(ids[1]);
        Assert.False(child, $"the script's child {ids[1]} (sleep 300) still runs");
    }

    private static async Task<bool> WaitUntilDeadAsync(int pid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Alive(pid) && DateTime.UtcNow < deadline) await Task.Delay(20);
        return Alive(pid);
    }

    /// <summary>Running (not a zombie): /proc/pid/stat's state after the command name.</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }
}

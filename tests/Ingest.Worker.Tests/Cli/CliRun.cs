using Ingest.Cli;

namespace Ingest.Worker.Tests.Cli;

/// <summary>One in-process run of the ingest CLI: its exit code and everything it wrote.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static async Task<CliRun> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        // The test process's own environment never leaks in (a developer's INGEST_ADMIN_TOKEN would hide a missing-token bug).
        var io = new CliIo(stdout, stderr, name => environment?.GetValueOrDefault(name)) { Width = 250 };
        var code = await IngestCli.RunAsync(args, io);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    public static Task<CliRun> RunAsync(params string[] args) => RunAsync(null, args);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Error}";
}

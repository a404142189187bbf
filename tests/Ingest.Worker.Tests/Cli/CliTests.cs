using System.Text.Json;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Tests.Cli;

/// <summary>The ingest verbs run in-process against two real admin API servers (regions a and b, fake pipelines).</summary>
public sealed class CliTests : IAsyncLifetime
{
    private const string Token = AdminServer.Token;
    private AdminServer _a = null!;
    private AdminServer _b = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("ingest-cli-").FullName;

    public async Task InitializeAsync()
    {
        _a = await AdminServer.StartAsync();
        _b = await AdminServer.StartAsync(new FakePipelineControl { Status = FakePipelineControl.Sample("b") });
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Status_shows_a_line_per_worker_and_a_row_per_partition_over_all_workers()
    {
        var run = await CliRun.RunAsync("status", "-w", _a.Name, "--worker", _b.Name, "--token", Token);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Error);
        Assert.Contains($"{_a.Name}  region a  group ingest.a  Running  3 partition(s)", run.Out, StringComparison.Ordinal);
        Assert.Contains($"{_b.Name}  region b  group ingest.b  Running  3 partition(s)", run.Out, StringComparison.Ordinal);
        Assert.Contains("  pause rule: operator on events[1]", run.Out, StringComparison.Ordinal);
        var header = Line(run.Out, "worker", "partition");
        Assert.Equal(["worker", "partition", "table", "position", "committed", "lag", "paused", "by", "in-flight", "rows"], Cells(header));
        Assert.Equal([_a.Name, "events[0]", "db.events", "120", "100", "50", "-", "20"], Cells(Line(run.Out, _a.Name, "events[0]")));
        Assert.Equal([_b.Name, "clicks[0]", "db.events", "-", "-", "-", "backup,operator", "0"], Cells(Line(run.Out, _b.Name, "clicks[0]")));
        Assert.Equal(6, run.Out.Split('\n').Count(l => l.Contains("db.events", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Status_json_is_one_document_with_each_workers_answer()
    {
        var run = await CliRun.RunAsync("status", "-w", _a.Name, "-w", _b.Name, "--token", Token, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal("status", doc.RootElement.GetProperty("command").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("exitCode").GetInt32());
        var workers = doc.RootElement.GetProperty("workers");
        Assert.Equal([_a.Name, _b.Name], workers.EnumerateArray().Select(w => w.GetProperty("worker").GetString()));
        Assert.All(workers.EnumerateArray(), w => Assert.Equal("ok", w.GetProperty("outcome").GetString()));
        Assert.Equal("b", workers[1].GetProperty("answer").GetProperty("region").GetString());
        Assert.Equal("Running", workers[1].GetProperty("answer").GetProperty("state").GetString());
        Assert.Equal("backup", workers[0].GetProperty("answer").GetProperty("partitions")[2].GetProperty("pausedBy")[0].GetString());
    }

    [Fact]
    public async Task An_unreachable_worker_is_exit_3_with_one_line_while_the_others_still_answer()
    {
        var closed = $"http://127.0.0.1:{AdminServer.FreePort()}";
        var run = await CliRun.RunAsync("status", "-w", _a.Name, "-w", closed, "--token", Token, "--json");
        Assert.Equal(3, run.ExitCode);
        Assert.Equal($"worker {closed} unreachable: connection refused", run.Error.Trim());
        using var doc = JsonDocument.Parse(run.Out);
        var workers = doc.RootElement.GetProperty("workers");
        Assert.Equal("ok", workers[0].GetProperty("outcome").GetString());
        Assert.Equal("unreachable", workers[1].GetProperty("outcome").GetString());
        Assert.Equal(JsonValueKind.Null, workers[1].GetProperty("answer").ValueKind);
        Assert.Equal(3, doc.RootElement.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task A_refused_token_is_exit_4()
    {
        var run = await CliRun.RunAsync("status", "-w", _a.Name, "--token", "not-the-token");
        Assert.Equal(4, run.ExitCode);
        Assert.Equal($"worker {_a.Name} refused the token (401)", run.Error.Trim());
        Assert.Equal("", run.Out.Trim());
    }

    [Fact]
    public async Task With_several_workers_the_worst_outcome_wins()
    {
        _b.Control.Refusal = new PipelineNotRunningException(PipelineState.Starting);
        var closed = $"http://127.0.0.1:{AdminServer.FreePort()}";
        Assert.Equal(1, (await CliRun.RunAsync("pause", "-w", _a.Name, "-w", _b.Name, "--token", Token)).ExitCode);
        Assert.Equal(3, (await CliRun.RunAsync("pause", "-w", _b.Name, "-w", closed, "-w", _a.Name, "--token", Token)).ExitCode);
        var both = await CliRun.RunAsync("status", "-w", closed, "-w", _a.Name, "--token", "wrong");
        Assert.Equal(4, both.ExitCode);
        Assert.Equal([$"worker {closed} unreachable: connection refused", $"worker {_a.Name} refused the token (401)"], Lines(both.Error));
    }

    [Fact]
    public async Task A_worker_whose_pipeline_is_not_running_is_exit_1_and_the_others_are_still_paused()
    {
        _b.Control.Refusal = new PipelineNotRunningException(PipelineState.Starting);
        var run = await CliRun.RunAsync("pause", "-w", _a.Name, "-w", _b.Name, "--token", Token);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"worker {_b.Name} answered 503: The pipeline is starting: the command was not applied", run.Error.Trim());
        Assert.Contains($"{_a.Name}  paused all partitions (operator): 3 partition(s) assigned here matched", run.Out, StringComparison.Ordinal);
        Assert.Equal(("pause", PauseReasons.Operator), Single(_a));
    }

    [Fact]
    public async Task Status_of_a_failed_pipeline_is_exit_1_naming_the_fault()
    {
        _b.Control.Status = FakePipelineControl.Sample("b") with { State = PipelineState.Failed, Fault = "table db.events was dropped" };
        var run = await CliRun.RunAsync("status", "-w", _a.Name, "-w", _b.Name, "--token", Token);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"worker {_b.Name} pipeline failed: table db.events was dropped", run.Error.Trim());
        Assert.Contains($"{_b.Name}  region b  group ingest.b  Failed  3 partition(s)  fault: table db.events was dropped", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pause_and_resume_send_the_selector_and_reason_to_every_worker()
    {
        var pause = await CliRun.RunAsync("pause", "-w", _a.Name, "-w", _b.Name, "--token", Token, "--topic", "events", "-p", "0,1", "--reason", "backup");
        Assert.True(pause.ExitCode == 0, pause.ToString());
        foreach (var server in new[] { _a, _b })
        {
            var call = Assert.Single(server.Control.Calls);
            Assert.Equal(("pause", "events", "0,1", PauseReasons.Backup), (call.Verb, call.Selector.Topic, string.Join(",", call.Selector.Partitions!), call.Reason));
        }
        Assert.Contains($"{_b.Name}  paused events[0,1] (backup): 2 partition(s) assigned here matched", pause.Out, StringComparison.Ordinal);
        Assert.Equal([_b.Name, "events[0]", "db.events", "-"], Cells(Line(pause.Out, _b.Name, "events[0]")));

        var resume = await CliRun.RunAsync("resume", "-w", _a.Name, "--token", Token, "-t", "events", "--partition", "1", "--partition", "2");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var last = _a.Control.Calls.Last();
        Assert.Equal(("resume", "1,2", PauseReasons.Operator), (last.Verb, string.Join(",", last.Selector.Partitions!), last.Reason));
        Assert.Equal([_a.Name, "events[1]", "db.events", "operator"], Cells(Line(resume.Out, _a.Name, "events[1]")));
    }

    [Fact]
    public async Task Flush_shows_committed_positions_and_a_worker_past_the_timeout_is_exit_1()
    {
        var ok = await CliRun.RunAsync("flush", "-w", _a.Name, "-w", _b.Name, "--token", Token, "--topic", "events", "--json");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        using (var doc = JsonDocument.Parse(ok.Out))
        {
            var positions = doc.RootElement.GetProperty("workers")[1].GetProperty("answer").GetProperty("positions");
            Assert.Equal(["events/0@120", "events/1@42"], positions.EnumerateArray().Select(p => $"{p.GetProperty("topic")}/{p.GetProperty("partition")}@{p.GetProperty("committed")}"));
        }

        _b.Control.FlushDelay = TimeSpan.FromSeconds(30);
        var slow = await CliRun.RunAsync("flush", "-w", _a.Name, "-w", _b.Name, "--token", Token, "--timeout", "300ms");
        Assert.Equal(1, slow.ExitCode);
        Assert.Equal($"worker {_b.Name} answered 504: flush of all partitions did not finish within 300ms; the worker goes on delivering, nothing was undone", slow.Error.Trim());
        Assert.Equal([_a.Name, "events[0]", "db.events", "120"], Cells(Line(slow.Out, _a.Name, "events[0]")));
    }

    [Fact]
    public async Task Workers_come_from_a_file_with_comments_and_repeats_are_asked_once()
    {
        var file = Path.Combine(_dir, "workers");
        await File.WriteAllTextAsync(file, $"# region a\n{_a.Name}   # first\n\n  {_b.Name}\n{_a.Name}/\n");
        var run = await CliRun.RunAsync("status", "--workers-file", file, "-w", _b.Name, "--token", Token, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(run.Out);
        Assert.Equal([_b.Name, _a.Name], doc.RootElement.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("worker").GetString()));
    }

    [Fact]
    public async Task The_token_comes_from_the_option_the_file_or_the_environment()
    {
        var file = Path.Combine(_dir, "token");
        await File.WriteAllTextAsync(file, $"{Token}\n");
        Assert.Equal(0, (await CliRun.RunAsync("status", "-w", _a.Name, "--token-file", file)).ExitCode);
        Assert.Equal(0, (await CliRun.RunAsync(new Dictionary<string, string> { ["INGEST_ADMIN_TOKEN"] = Token }, "status", "-w", _a.Name)).ExitCode);
        // The option wins over the environment.
        Assert.Equal(4, (await CliRun.RunAsync(new Dictionary<string, string> { ["INGEST_ADMIN_TOKEN"] = Token }, "status", "-w", _a.Name, "--token", "other")).ExitCode);
    }

    [Theory]
    [InlineData("status -w {a}", "ingest: no admin token: pass --token-file FILE or --token TOKEN, or set INGEST_ADMIN_TOKEN (the worker's Ingest:Admin:Token)")]
    [InlineData("status --token t", "ingest: no worker: pass --worker URL (repeatable) or --workers-file FILE")]
    [InlineData("status -w {a} --token t --token-file {dir}/token", "ingest: --token and --token-file are both given; give one")]
    [InlineData("status -w {a} --token-file {dir}/none", "ingest: token file '{dir}/none' does not exist")]
    [InlineData("status --workers-file {dir}/none --token t", "ingest: workers file '{dir}/none' does not exist")]
    [InlineData("status -w ftp://host:1 --token t", "ingest: 'ftp://host:1' is not a worker admin URL (expected http://host:port, the worker's Ingest:Admin:Url)")]
    [InlineData("pause -w {a} --token t -p 1", "ingest: --partition needs --topic")]
    [InlineData("pause -w {a} --token t --topic e -p x", "ingest: --partition: 'x' is not a partition number (0 or more)")]
    [InlineData("pause -w {a} --token t --reason backpressure", "ingest: --reason: unknown reason 'backpressure': expected one of operator, backup, target-failed")]
    [InlineData("pause -w {a} --token t --reason not-owned", "ingest: --reason: unknown reason 'not-owned': expected one of operator, backup, target-failed")]
    [InlineData("flush -w {a} --token t --timeout soon", "ingest: --timeout: timeout 'soon' is not a duration (e.g. 30s, 500ms, 2m, 00:01:30)")]
    [InlineData("status -w {a} --token t --bogus", "ingest: Unrecognized command or argument '--bogus'.")]
    [InlineData("takeover -w {a} --token t", "ingest: Option '--from' is required.")]
    [InlineData("takeover -w {a} --token t --force", "ingest: Option '--from' is required.")]
    [InlineData("failback -w {a} --token t", "ingest: Option '--to' is required.")]
    [InlineData("failback -w {a} --token t --to a --timeout soon", "ingest: --timeout: timeout 'soon' is not a duration (e.g. 30s, 500ms, 2m, 00:01:30)")]
    [InlineData("", "ingest: Required command was not provided.")]
    public async Task Usage_errors_are_exit_2_with_a_clear_line_and_send_nothing(string args, string expected)
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "token"), Token);
        string Fill(string s) => s.Replace("{a}", _a.Name, StringComparison.Ordinal).Replace("{dir}", _dir, StringComparison.Ordinal);
        var run = await CliRun.RunAsync(Fill(args).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal(Fill(expected), Lines(run.Error)[0]);
        Assert.Empty(_a.Control.Calls);
    }

    [Fact]
    public async Task The_health_address_instead_of_the_admin_one_is_exit_1_with_a_hint()
    {
        var run = await CliRun.RunAsync("status", "-w", _a.OtherUrl.ToString(), "--token", Token);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("answered 404", run.Error, StringComparison.Ordinal);
        Assert.Contains("is this the worker's admin address, Ingest:Admin:Url", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("status --help")]
    [InlineData("flush -h")]
    public async Task Help_documents_the_exit_codes(string args)
    {
        var run = await CliRun.RunAsync(args.Split(' '));
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Exit codes (with several workers, the highest wins):", run.Out, StringComparison.Ordinal);
        Assert.Contains("3  a worker was unreachable", run.Out, StringComparison.Ordinal);
        Assert.Contains("4  a worker refused the token (401/403)", run.Out, StringComparison.Ordinal);
    }

    private static (string Verb, PauseReasons? Reason) Single(AdminServer server)
    {
        var call = Assert.Single(server.Control.Calls);
        return (call.Verb, call.Reason);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Line(string text, string first, string second) =>
        Lines(text).SingleOrDefault(l => l.Contains(first, StringComparison.Ordinal) && l.Contains(second, StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"no line with '{first}' and '{second}' in:\n{text}");

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

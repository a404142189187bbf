using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net.Http.Json;
using Ingest.Pipeline.Control;

namespace Ingest.Cli;

/// <summary>The <c>ingest</c> verbs: status, pause, resume and flush against one or several workers' admin API.</summary>
internal static partial class IngestCli
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DefaultFlushTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Room for the worker's own flush deadline to pass and its 504 to arrive before the client gives up.</summary>
    private static readonly TimeSpan FlushAnswerMargin = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, CliIo io, CancellationToken ct = default)
    {
        var parse = Build(io).Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // System.CommandLine's own error action exits 1, which scripts must be able to tell from a worker's error.
            foreach (var error in parse.Errors) await io.Error.WriteLineAsync($"ingest: {error.Message}");
            await io.Error.WriteLineAsync($"Run '{string.Join(' ', ["ingest", .. CommandPath(parse.CommandResult)])} --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = io.Out,
            Error = io.Error,
            ProcessTerminationTimeout = io.ProcessTerminationTimeout,
        }, ct);
    }

    private static IEnumerable<string> CommandPath(CommandResult? command) =>
        command?.Parent is CommandResult parent ? [.. CommandPath(parent), command.Command.Name] : [];

    private static RootCommand Build(CliIo io)
    {
        var common = new CommonOptions();
        var selector = new SelectorOptions();
        var reason = new Option<string>("--reason", "-r")
        {
            Description = $"Why: {ControlInput.ReasonNames}. A partition consumes only when no reason holds it; resume lifts only this one",
            DefaultValueFactory = _ => "operator",
            HelpName = "REASON",
        };
        reason.Validators.Add(r =>
        {
            if (ControlInput.Reason(r.GetValueOrDefault<string>(), out var problem) is null) r.AddError($"--reason: {problem}");
        });

        var status = new Command("status", "Show each worker's pipeline: region, group, state, and every assigned partition's position, lag and pauses.");
        common.AddTo(status, DefaultTimeout);
        status.SetAction((parse, ct) => StatusAsync(io, common.Read(parse, io), ct));

        var pause = new Command("pause", "Pause the selected partitions (all by default) for a reason; kept as a rule for partitions assigned later.");
        var resume = new Command("resume", "Lift a reason from the selected partitions (all by default); other reasons keep holding them.");
        foreach (var (command, path) in new[] { (pause, "pause"), (resume, "resume") })
        {
            common.AddTo(command, DefaultTimeout);
            selector.AddTo(command);
            command.Add(reason);
            command.SetAction((parse, ct) => PauseOrResumeAsync(io, path, common.Read(parse, io), selector, parse.GetValue(reason), parse, ct));
        }

        var flush = new Command("flush", "Wait until everything consumed so far from the selected partitions is in ClickHouse and checkpointed; " +
            "shows each partition's committed offset.");
        common.AddTo(flush, DefaultFlushTimeout);
        selector.AddTo(flush);
        flush.SetAction((parse, ct) => FlushAsync(io, common.Read(parse, io), selector, parse, ct));

        var root = new RootCommand("Operate Ingest workers through their admin API (Ingest:Admin:Url, bearer token).")
        {
            status, pause, resume, flush, BackupPointCommand(io, common), RestoreCommand(io),
        };
        foreach (var command in OwnershipCommands(io, common)) root.Add(command);
        // Every verb's help ends with the exit codes, since scripts call the verbs, not the root.
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction action) help.Action = new HelpWithExitCodes(action);
        }
        return root;
    }

    private sealed class HelpWithExitCodes(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var result = help.Invoke(parseResult);
            parseResult.InvocationConfiguration.Output.WriteLine(ExitCodes.Help);
            return result;
        }
    }

    private static async Task<int> StatusAsync(CliIo io, Invocation? run, CancellationToken ct)
    {
        if (run is null) return ExitCodes.Usage;
        var reports = await run.ForEachWorkerAsync(w => run.Client.SendAsync(w, HttpMethod.Get, "status", null,
            ControlJsonContext.Default.PipelineStatus, run.Timeout, ct));
        // A failed pipeline answered, but it is not ingesting: a script checking status must see that.
        reports = reports.Select(r => r.Answer is { State: PipelineState.Failed } s
            ? r with { Outcome = WorkerOutcome.Error, Error = $"pipeline failed: {s.Fault ?? "no fault recorded"}" }
            : r).ToList();
        return Output.Write(io, run.Json, CliReport<PipelineStatus>.Of("status", reports), CliJsonContext.Default.CliReportPipelineStatus, Output.StatusTables);
    }

    private static async Task<int> PauseOrResumeAsync(CliIo io, string path, Invocation? run, SelectorOptions selectorOptions, string? reason,
        ParseResult parse, CancellationToken ct)
    {
        if (run is null || selectorOptions.Read(parse, io) is not { } selector) return ExitCodes.Usage;
        var body = new PauseRequest(selector.Topic, selector.Partitions, reason);
        var reports = await run.ForEachWorkerAsync(w => run.Client.SendAsync(w, HttpMethod.Post, path,
            JsonContent.Create(body, ControlJsonContext.Default.PauseRequest), ControlJsonContext.Default.PauseResult, run.Timeout, ct));
        return Output.Write(io, run.Json, CliReport<PauseResult>.Of(path, reports), CliJsonContext.Default.CliReportPauseResult,
            (console, report) => Output.PauseTables(console, report, path == "pause" ? "paused" : "resumed"));
    }

    private static async Task<int> FlushAsync(CliIo io, Invocation? run, SelectorOptions selectorOptions, ParseResult parse, CancellationToken ct)
    {
        if (run is null || selectorOptions.Read(parse, io) is not { } selector) return ExitCodes.Usage;
        var body = new FlushRequest(selector.Topic, selector.Partitions, ControlTimeout.Format(run.Timeout));
        var reports = await run.ForEachWorkerAsync(w => run.Client.SendAsync(w, HttpMethod.Post, "flush",
            JsonContent.Create(body, ControlJsonContext.Default.FlushRequest), ControlJsonContext.Default.FlushResult, run.Timeout + FlushAnswerMargin, ct));
        return Output.Write(io, run.Json, CliReport<FlushResult>.Of("flush", reports), CliJsonContext.Default.CliReportFlushResult, Output.FlushTables);
    }

    /// <summary>One run of a verb: where it goes, with which token, and how the answers are shown.</summary>
    private sealed record Invocation(Targets Targets, AdminClient Client, bool Json, TimeSpan Timeout)
    {
        /// <summary>Asks every worker at once; the reports come back in the order the workers were given.</summary>
        public async Task<IReadOnlyList<WorkerReport<T>>> ForEachWorkerAsync<T>(Func<Uri, Task<WorkerReport<T>>> call)
            where T : class => await Task.WhenAll(Targets.Workers.Select(call));
    }

    /// <summary>Options every verb takes: which workers, the token, output form and timeout.</summary>
    private sealed class CommonOptions
    {
        private static readonly HttpClient Http = AdminClient.CreateHttpClient();

        private readonly Option<string[]> _worker = new("--worker", "-w")
        {
            Description = "A worker's admin URL (its Ingest:Admin:Url, e.g. http://127.0.0.1:8081); repeatable",
            HelpName = "URL",
        };

        private readonly Option<FileInfo> _workersFile = new("--workers-file")
        {
            Description = "File with one worker admin URL per line; # starts a comment",
            HelpName = "FILE",
        };

        private readonly Option<string> _token = new("--token")
        {
            Description = $"Admin bearer token (visible to other users in the process list: prefer --token-file or {Targets.TokenVariable})",
            HelpName = "TOKEN",
        };

        private readonly Option<FileInfo> _tokenFile = new("--token-file")
        {
            Description = $"File holding the admin token; default: the {Targets.TokenVariable} environment variable",
            HelpName = "FILE",
        };

        private readonly Option<bool> _json = new("--json")
        {
            Description = "One JSON document on stdout instead of tables: per worker its outcome, error and answer",
        };

        private readonly Dictionary<Command, Option<TimeSpan>> _timeouts = [];

        public void AddTo(Command command, TimeSpan defaultTimeout)
        {
            var timeout = new Option<TimeSpan>("--timeout")
            {
                Description = $"How long to wait for each worker (e.g. 30s, 2m){(command.Name == "flush" ? "; also the worker's own flush deadline" : "")}",
                DefaultValueFactory = _ => defaultTimeout,
                CustomParser = r =>
                {
                    if (ControlTimeout.Parse(r.Tokens[0].Value, out var problem) is { } value) return value;
                    r.AddError($"--timeout: {problem}");
                    return default;
                },
                HelpName = "DURATION",
            };
            _timeouts[command] = timeout;
            command.Add(_worker);
            command.Add(_workersFile);
            command.Add(_token);
            command.Add(_tokenFile);
            command.Add(_json);
            command.Add(timeout);
        }

        /// <summary>The run, or null after writing what is wrong (a usage error).</summary>
        public Invocation? Read(ParseResult parse, CliIo io)
        {
            var targets = Targets.Resolve(parse.GetValue(_worker) ?? [], parse.GetValue(_workersFile), parse.GetValue(_token),
                parse.GetValue(_tokenFile), io.Environment, out var problem);
            if (targets is null)
            {
                io.Error.WriteLine($"ingest: {problem}");
                return null;
            }
            return new Invocation(targets, new AdminClient(Http, targets.Token), parse.GetValue(_json), parse.GetValue(_timeouts[parse.CommandResult.Command]));
        }
    }

    /// <summary>--topic and --partition, the selector pause, resume and flush share.</summary>
    private sealed class SelectorOptions
    {
        private readonly Option<string> _topic = new("--topic", "-t")
        {
            Description = "Only this topic's partitions (default: every partition assigned to the worker)",
            HelpName = "TOPIC",
        };

        private readonly Option<int[]> _partition = new("--partition", "-p")
        {
            Description = "Only these partitions of --topic; repeatable, or comma-separated (0,1,2)",
            HelpName = "N",
            CustomParser = r =>
            {
                var partitions = new List<int>();
                foreach (var part in r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
                {
                    if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var p))
                    {
                        r.AddError($"--partition: '{part}' is not a partition number (0 or more)");
                        return [];
                    }
                    partitions.Add(p);
                }
                return [.. partitions];
            },
        };

        public void AddTo(Command command)
        {
            command.Add(_topic);
            command.Add(_partition);
        }

        public PartitionSelector? Read(ParseResult parse, CliIo io)
        {
            var (topic, partitions) = (parse.GetValue(_topic), parse.GetValue(_partition));
            var selector = ControlInput.Selector(topic, partitions, out var problem);
            if (partitions is { Length: > 0 } && topic is null) problem = "--partition needs --topic";
            if (problem is null) return selector;
            io.Error.WriteLine($"ingest: {problem}");
            return null;
        }
    }
}

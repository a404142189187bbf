using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Ingest.Pipeline;
using Ingest.Pipeline.Backup;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Ingest.Cli;

/// <summary><c>ingest backup-point create|list</c> (through the workers' admin API) and <c>ingest restore</c> (with the
/// worker's configuration, while the region's workers are stopped).</summary>
internal static partial class IngestCli
{
    private static readonly TimeSpan DefaultBackupTimeout = TimeSpan.FromMinutes(30);

    private static Command BackupPointCommand(CliIo io, CommonOptions common)
    {
        var name = new Option<string>("--name", "-n") { Description = "The point's name (also the backup's name)", Required = true, HelpName = "NAME" };
        var create = new Command("create", "Take a backup point of the region: every given worker pauses (reason backup), flushes and checkpoints; " +
            "the positions are recorded in ClickHouse; replicas sync; the first worker runs its configured backend (Ingest:Backup); " +
            "ingest resumes whatever happened. Give every worker of the region.") { name };
        common.AddTo(create, DefaultBackupTimeout);
        create.SetAction((parse, ct) => CreateBackupPointAsync(io, common.Read(parse, io), parse.GetValue(name)!, ct));

        var list = new Command("list", "The region's backup points, oldest first, as recorded next to the data.");
        common.AddTo(list, DefaultTimeout);
        list.SetAction((parse, ct) => ListBackupPointsAsync(io, common.Read(parse, io), ct));
        return new Command("backup-point", "Backup points: a backup that knows where in Kafka its data ends.") { create, list };
    }

    private static async Task<int> CreateBackupPointAsync(CliIo io, Invocation? run, string name, CancellationToken ct)
    {
        if (run is null) return ExitCodes.Usage;
        var coordinator = run.Targets.Workers[0];
        var body = new BackupPointRequest(name, [.. run.Targets.Workers.Skip(1).Select(Targets.Name)], ControlTimeout.Format(run.Timeout));
        // The coordinator answers when the backend is done or aborted at the timeout; a minute more for pause and resume.
        var report = await run.Client.SendAsync(coordinator, HttpMethod.Post, "backup-points",
            JsonContent.Create(body, ControlJsonContext.Default.BackupPointRequest), ControlJsonContext.Default.BackupPointReport, run.Timeout + TimeSpan.FromMinutes(1), ct);
        if (report.Answer is { Status: not "finished" } failed)
            report = report with { Outcome = WorkerOutcome.Error, Error = $"backup point {failed.Name} {failed.Status}: {failed.Error}" };
        if (report.Answer is { StillPaused.Count: > 0 } paused)
            report = report with { Outcome = WorkerOutcome.Error, Error = $"{report.Error}; still paused (run `ingest resume --reason backup` on them): {string.Join("; ", paused.StillPaused)}" };
        return Output.Write(io, run.Json, CliReport<BackupPointReport>.Of("backup-point create", [report]), CliJsonContext.Default.CliReportBackupPointReport, (console, r) =>
        {
            foreach (var p in r.Workers.Select(w => w.Answer).OfType<BackupPointReport>())
            {
                console.WriteLine($"backup point {p.Name}  region {p.Region}  group {p.Group}  {p.Status}  backend {p.Backend}  paused {p.PauseMs} ms  " +
                    $"workers {string.Join(", ", p.Workers)}{(p.Detail is null ? "" : $"  ({p.Detail})")}");
                var table = Output.NewTable("partition", "table", "committed");
                foreach (var pos in p.Positions) Output.Row(table, $"{pos.Topic}[{pos.Partition}]", pos.Table, Output.Number(pos.Committed));
                if (table.Rows.Count > 0) console.Write(table);
            }
        });
    }

    private static async Task<int> ListBackupPointsAsync(CliIo io, Invocation? run, CancellationToken ct)
    {
        if (run is null) return ExitCodes.Usage;
        var report = await run.Client.SendAsync(run.Targets.Workers[0], HttpMethod.Get, "backup-points", null, ControlJsonContext.Default.BackupPointList, run.Timeout, ct);
        return Output.Write(io, run.Json, CliReport<BackupPointList>.Of("backup-point list", [report]), CliJsonContext.Default.CliReportBackupPointList, (console, r) =>
        {
            foreach (var list in r.Workers.Select(w => w.Answer).OfType<BackupPointList>())
            {
                console.WriteLine($"region {list.Region}  group {list.Group}  {list.Points.Count} point(s) in {list.Table}");
                var table = Output.NewTable("name", "status", "backend", "started", "paused ms", "partitions", "error");
                foreach (var p in list.Points)
                    Output.Row(table, p.Name, p.Status, p.Backend, p.StartedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture), Output.Number(p.PauseMs),
                        Output.Number(p.Positions.Count), p.Error ?? "");
                if (table.Rows.Count > 0) console.Write(table);
            }
        });
    }

    private static Command RestoreCommand(CliIo io)
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "The region's worker configuration (JSON, section Ingest; Ingest__ environment variables apply over it, as for the worker)",
            Required = true,
            HelpName = "FILE",
        };
        var point = new Option<string>("--backup-point", "-b") { Description = "Replay from this backup point (its tables restored to the point's backup)", HelpName = "NAME" };
        var fromCheckpoints = new Option<bool>("--from-checkpoints")
        {
            Description = "No backup point: reconcile the restored checkpoints with the restored data (a backup taken without Ingest's pause)",
        };
        var restoreData = new Option<bool>("--restore-data")
        {
            Description = "First restore the backup point's tables from its backup with the configured backend (Ingest:Backup); each must be missing or empty",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the plan; change nothing" };
        var json = new Option<bool>("--json") { Description = "One JSON document on stdout instead of tables" };
        var timeout = new Option<TimeSpan>("--timeout")
        {
            Description = "How long the consumer-group reset may take",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(60),
            CustomParser = r =>
            {
                if (ControlTimeout.Parse(r.Tokens[0].Value, out var problem) is { } value) return value;
                r.AddError($"--timeout: {problem}");
                return default;
            },
            HelpName = "DURATION",
        };
        var restore = new Command("restore", "Restore replay, with the region's workers stopped: check the restored tables against the backup point " +
            "(or the restored checkpoints), reset the region's consumer group and checkpoints to where the data ends, then start the workers: they replay " +
            "exactly what is missing. Refuses, naming why, when that cannot be exact. Exit 0: replay set (or planned with --dry-run); 1: refused or failed; 2: usage.")
        {
            config, point, fromCheckpoints, restoreData, dryRun, json, timeout,
        };
        restore.Validators.Add(r =>
        {
            if (r.GetValue(point) is null == !r.GetValue(fromCheckpoints))
                r.AddError("give either --backup-point NAME or --from-checkpoints");
            if (r.GetValue(restoreData) && r.GetValue(point) is null) r.AddError("--restore-data needs --backup-point (the backup to restore is the point's)");
            if (r.GetValue(restoreData) && r.GetValue(dryRun)) r.AddError("--restore-data changes the tables; it cannot be a --dry-run");
        });
        restore.SetAction((parse, ct) => RestoreAsync(io, parse.GetValue(config)!, parse.GetValue(point), parse.GetValue(restoreData), parse.GetValue(dryRun),
            parse.GetValue(json), parse.GetValue(timeout), ct));
        return restore;
    }

    private static async Task<int> RestoreAsync(CliIo io, FileInfo configFile, string? point, bool restoreData, bool dryRun, bool json, TimeSpan timeout,
        CancellationToken ct)
    {
        if (LoadOptions(io, configFile) is not { } options) return ExitCodes.Usage;
        if (restoreData && options.Backup.Backend.Length == 0)
        {
            io.Error.WriteLine($"ingest: --restore-data needs a backend: {configFile} sets no Ingest:Backup:Backend ({string.Join(", ", BackupOptions.BackendNames)})");
            return ExitCodes.Usage;
        }
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Ingest", json ? LogLevel.Warning : LogLevel.Information));
        var replay = new RestoreReplay(options, logs.CreateLogger("Ingest.Restore"));
        RestorePlan? plan = null;
        try
        {
            if (restoreData)
            {
                var backend = BackupBackends.Create(options);
                try
                {
                    var restored = await replay.RestoreDataAsync(point!, backend, timeout, ct);
                    if (!json) io.Out.WriteLine($"restored the tables of backup point {point} ({backend.Name}): {restored.Detail}");
                }
                finally
                {
                    (backend as IDisposable)?.Dispose();
                }
            }
            plan = await replay.PlanAsync(point, ct);
            RestoreOutcome? outcome = null;
            if (!dryRun && plan.Problems.Count == 0) outcome = await replay.ApplyAsync(plan, timeout, ct);
            return WriteRestore(io, json, plan, outcome, dryRun, null);
        }
        catch (RestoreRefusedException e)
        {
            return WriteRestore(io, json, e.Plan ?? plan, null, dryRun, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // ClickHouse or Kafka unreachable, a backend that failed: what the operator must fix, not a crash.
            io.Error.WriteLine($"ingest restore: failed: {e.Message}");
            return ExitCodes.WorkerError;
        }
    }

    private static int WriteRestore(CliIo io, bool json, RestorePlan? plan, RestoreOutcome? outcome, bool dryRun, string? refusal)
    {
        var problems = plan?.Problems.Select(p => $"{p.Name} of {p.Table}: {p.Problem}").ToList() ?? [];
        var refused = refusal is not null || problems.Count > 0;
        var state = refused ? "refused" : dryRun ? "planned" : "applied";
        if (json)
        {
            var rows = plan?.Partitions.Select(p => new RestoreRow(p.Topic, p.Partition, p.Table, p.Point, p.Checkpoint, p.Data?.Rows, p.Data?.Next,
                p.KafkaEarliest, p.Resume, p.Action, p.Problem)).ToList() ?? [];
            io.Out.WriteLine(JsonSerializer.Serialize(new RestoreReport(state, plan?.Region, plan?.Group, plan?.Point?.Name, rows,
                outcome?.Reset.MembershipCheck, outcome?.CheckpointsWritten, refusal), CliJsonContext.Default.RestoreReport));
        }
        else if (plan is not null)
        {
            var console = io.CreateConsole();
            console.WriteLine($"restore of region {plan.Region}, group {plan.Group}, " +
                (plan.Point is { } p ? $"backup point {p.Name} ({p.Status}, taken {p.StartedAt:u})" : "from the restored checkpoints and data") + $": {state}");
            var table = Output.NewTable("partition", "table", "point", "checkpoint", "data rows", "data end", "kafka earliest", "replay from", "action");
            foreach (var r in plan.Partitions)
            {
                Output.Row(table, r.Name, r.Table, Output.Number(r.Point), Output.Number(r.Checkpoint), Output.Number(r.Data?.Rows), Output.Number(r.Data?.Next),
                    Output.Number(r.KafkaEarliest), Output.Number(r.Resume), r.Problem is null ? r.Action : "REFUSED");
            }
            if (table.Rows.Count > 0) console.Write(table);
            if (outcome is not null)
                console.WriteLine($"group {plan.Group} reset ({outcome.Reset.MembershipCheck} showed no active member), {outcome.CheckpointsWritten} checkpoint(s) written: start the region's workers to replay");
        }
        if (refusal is not null) io.Error.WriteLine($"ingest restore: {refusal}");
        else foreach (var problem in problems) io.Error.WriteLine($"ingest restore: refused: {problem}");
        io.Out.Flush();
        io.Error.Flush();
        return refused ? ExitCodes.WorkerError : ExitCodes.Ok;
    }

    /// <summary>The worker's options from its configuration file and environment, checked as the worker checks them;
    /// null after writing what is wrong.</summary>
    private static IngestOptions? LoadOptions(CliIo io, FileInfo file)
    {
        if (!file.Exists)
        {
            io.Error.WriteLine($"ingest: configuration file '{file}' does not exist");
            return null;
        }
        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false).AddEnvironmentVariables().Build();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or JsonException)
        {
            io.Error.WriteLine($"ingest: configuration file '{file}' cannot be read: {e.Message}");
            return null;
        }
        // The admin section is the worker host's, not the pipeline's.
        var pipelineKeys = configuration.AsEnumerable().Where(kv => !kv.Key.StartsWith("Ingest:Admin", StringComparison.OrdinalIgnoreCase));
        var problems = OptionsCheck.Problems<IngestOptions>(pipelineKeys, "Ingest");
        var options = problems.Count == 0 ? configuration.GetSection("Ingest").Get<IngestOptions>() ?? new IngestOptions() : null;
        try
        {
            options?.Validate();
        }
        catch (InvalidOperationException e)
        {
            problems = [e.Message];
        }
        if (problems.Count == 0) return options;
        io.Error.WriteLine($"ingest: {file}: invalid configuration:\n  {string.Join("\n  ", problems)}");
        return null;
    }
}

/// <summary>One partition of <c>ingest restore --json</c>.</summary>
internal sealed record RestoreRow(string Topic, int Partition, string Table, long? Point, long? Checkpoint, long? DataRows, long? DataEnd,
    long? KafkaEarliest, long? ReplayFrom, string Action, string? Problem);

/// <summary>The <c>ingest restore --json</c> document; <see cref="State"/>: planned (dry run), applied or refused.</summary>
internal sealed record RestoreReport(string State, string? Region, string? Group, string? BackupPoint, IReadOnlyList<RestoreRow> Partitions,
    string? MembershipCheck, int? CheckpointsWritten, string? Refusal);

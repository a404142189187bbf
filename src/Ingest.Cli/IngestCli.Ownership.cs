using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Regions;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Ingest.Cli;

/// <summary><c>ingest ownership</c>, <c>ingest takeover --from R</c> and <c>ingest failback --to R</c>: two-subcluster
/// targets' partition ownership, through one worker's admin API (the claims it writes reach every worker of both regions).</summary>
internal static partial class IngestCli
{
    private static readonly TimeSpan DefaultFailbackWait = TimeSpan.FromSeconds(60);

    private static IEnumerable<Command> OwnershipCommands(CliIo io, CommonOptions common)
    {
        var show = new Command("ownership", "Who writes each partition of the two-subcluster targets: owner region, epoch, where its range starts.");
        common.AddTo(show, DefaultFailbackWait);
        show.SetAction((parse, ct) => OwnershipAsync(io, common.Read(parse, io), HttpMethod.Get, "ownership", null, TimeSpan.Zero, ct));

        var force = new Option<bool>("--force") { Description = "Skip the check that the other region is down (stop its workers first: a live owner keeps writing until it sees the claim)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the claims; write nothing" };
        var from = new Option<string>("--from") { Description = "The lost region", Required = true, HelpName = "REGION" };
        var takeover = new Command("takeover", "This region (the worker's) takes over the partitions the lost region owns: each from the first offset not known to be " +
            "in the lost region's subcluster (read on this region's replica of it), written into this region's subcluster. Refused while the other region looks alive, " +
            "unless --force.") { from, force, dryRun };
        // It reads Kafka's metadata and both subclusters: more than a status call.
        common.AddTo(takeover, DefaultFailbackWait);
        takeover.SetAction((parse, ct) => OwnershipAsync(io, common.Read(parse, io), HttpMethod.Post, "ownership/takeover",
            new OwnershipRequest(From: parse.GetValue(from), Force: parse.GetValue(force), DryRun: parse.GetValue(dryRun)), TimeSpan.Zero, ct));

        var to = new Option<string>("--to") { Description = "The region getting its partitions back", Required = true, HelpName = "REGION" };
        var failback = new Command("failback", "Hand the partitions this region took over back to their configured region: this region's workers finish what they hold " +
            "and record where they stopped; the returning region starts exactly there. Waits up to --timeout (default 60s) for every partition's release.")
        {
            to, force, dryRun,
        };
        common.AddTo(failback, DefaultFailbackWait);
        failback.SetAction((parse, ct) =>
        {
            var run = common.Read(parse, io);
            return OwnershipAsync(io, run, HttpMethod.Post, "ownership/failback",
                new OwnershipRequest(To: parse.GetValue(to), Force: parse.GetValue(force), DryRun: parse.GetValue(dryRun), Timeout: run is null ? null : ControlTimeout.Format(run.Timeout)),
                FlushAnswerMargin, ct);
        });
        return [show, takeover, failback, ReconcileCommand(io)];
    }

    private static Command ReconcileCommand(CliIo io)
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "A worker configuration of either region (JSON, section Ingest; Ingest__ environment variables apply over it)",
            Required = true,
            HelpName = "FILE",
        };
        var apply = new Option<bool>("--apply") { Description = "Delete the copies in the subcluster that does not own them (default: only report)" };
        var json = new Option<bool>("--json") { Description = "One JSON document on stdout instead of tables" };
        var reconcile = new Command("reconcile", "Find offsets stored in both subclusters after a takeover (the lost region's unacknowledged INSERT that landed after " +
            "all, a stale owner's late rows) and, with --apply, delete the copy in the subcluster whose region does not own them. Needs both subclusters; run it " +
            "once the lost region is back. Exit 0: every offset in one subcluster only; 1: duplicates found (dry run) or left; 2: usage.")
        {
            config, apply, json,
        };
        reconcile.SetAction((parse, ct) => ReconcileAsync(io, parse.GetValue(config)!, parse.GetValue(apply), parse.GetValue(json), ct));
        return reconcile;
    }

    private static async Task<int> ReconcileAsync(CliIo io, FileInfo configFile, bool apply, bool json, CancellationToken ct)
    {
        if (LoadOptions(io, configFile) is not { } options) return ExitCodes.Usage;
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Ingest", json ? LogLevel.Warning : LogLevel.Information));
        ReconcileReport report;
        try
        {
            report = await new Reconcile(options, logs.CreateLogger("Ingest.Reconcile")).RunAsync(apply, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            io.Error.WriteLine($"ingest reconcile: {(e is OwnershipRefusedException ? "refused" : "failed")}: {e.Message}");
            return ExitCodes.WorkerError;
        }
        if (json)
        {
            io.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.ReconcileReport));
        }
        else
        {
            var console = io.CreateConsole();
            console.WriteLine($"reconcile ({(apply ? "applied" : "dry run")}): {report.DuplicateOffsets} offset(s) in both subclusters, {report.Remaining} left; " +
                $"{report.WithinSubcluster} row(s) repeated within one subcluster");
            var table = Output.NewTable("table", "partition", "offsets", "kept in", apply ? "removed from" : "to remove from");
            foreach (var r in report.Duplicates) Output.Row(table, r.Table, $"{r.Topic}[{r.Partition}]", $"{r.From}..{r.To}", r.KeptIn, r.RemovedFrom);
            if (table.Rows.Count > 0) console.Write(table);
            foreach (var note in report.Notes) console.WriteLine(note);
        }
        return report.Remaining == 0 ? ExitCodes.Ok : ExitCodes.WorkerError;
    }

    private static async Task<int> OwnershipAsync(CliIo io, Invocation? run, HttpMethod method, string path, OwnershipRequest? body, TimeSpan margin, CancellationToken ct)
    {
        if (run is null) return ExitCodes.Usage;
        var report = await run.Client.SendAsync(run.Targets.Workers[0], method, path,
            body is null ? null : JsonContent.Create(body, ControlJsonContext.Default.OwnershipRequest), ControlJsonContext.Default.OwnershipReport, run.Timeout + margin, ct);
        if (report.Answer is { } answer && answer.Routes.SelectMany(r => r.Partitions).FirstOrDefault(p => p.Note?.StartsWith("not released", StringComparison.Ordinal) == true) is { } stuck)
            report = report with { Outcome = WorkerOutcome.Error, Error = $"{stuck.Topic}[{stuck.Partition}] {stuck.Note}" };
        return Output.Write(io, run.Json, CliReport<OwnershipReport>.Of(path.Replace('/', ' '), [report]), CliJsonContext.Default.CliReportOwnershipReport, (console, r) =>
        {
            foreach (var answer in r.Workers.Select(w => w.Answer).OfType<OwnershipReport>())
            {
                foreach (var check in answer.Checks) console.WriteLine(check);
                foreach (var route in answer.Routes)
                {
                    console.WriteLine($"{answer.Action}  table {route.Table}  region {route.Region} (other: {route.OtherRegion})  {route.Partitions.Count} partition(s)");
                    var table = Output.NewTable("partition", "owner", "epoch", "reason", "from", "start", "uncertain", "released", "note");
                    foreach (var p in route.Partitions)
                    {
                        Output.Row(table, $"{p.Topic}[{p.Partition}]", p.Owner, Output.Number(p.Epoch), p.Reason, p.PreviousOwner,
                            p.Start >= 0 ? Output.Number(p.Start) : "-", p.UncertainFirst >= 0 ? $"{p.UncertainFirst}..{p.UncertainLast}" : "",
                            p.Released is { } released ? Output.Number(released) : "", p.Note ?? "");
                    }
                    if (table.Rows.Count > 0) console.Write(table);
                }
            }
        });
    }
}

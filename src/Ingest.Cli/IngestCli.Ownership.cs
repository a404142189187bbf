using System.CommandLine;
using System.Net.Http.Json;
using Ingest.Pipeline.Control;
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
        common.AddTo(show, DefaultTimeout);
        show.SetAction((parse, ct) => OwnershipAsync(io, common.Read(parse, io), HttpMethod.Get, "ownership", null, TimeSpan.Zero, ct));

        var force = new Option<bool>("--force") { Description = "Skip the check that the other region is down (stop its workers first: a live owner keeps writing until it sees the claim)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the claims; write nothing" };
        var from = new Option<string>("--from") { Description = "The lost region", Required = true, HelpName = "REGION" };
        var takeover = new Command("takeover", "This region (the worker's) takes over the partitions the lost region owns: each from the first offset not known to be " +
            "in the lost region's subcluster (read on this region's replica of it), written into this region's subcluster. Refused while the other region looks alive, " +
            "unless --force.") { from, force, dryRun };
        common.AddTo(takeover, DefaultTimeout);
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
        return [show, takeover, failback];
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

using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using Ingest.Pipeline.Control;
using Spectre.Console;

namespace Ingest.Cli;

/// <summary>Shows a verb's reports: one JSON document with --json, else tables on stdout; either way each worker that
/// did not answer OK gets one line on stderr. Answers the run's exit code.</summary>
internal static class Output
{
    public static int Write<T>(CliIo io, bool json, CliReport<T> report, JsonTypeInfo<CliReport<T>> type, Action<IAnsiConsole, CliReport<T>> tables)
        where T : class
    {
        if (json)
            io.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(report, type));
        else
            tables(io.CreateConsole(), report);
        foreach (var failed in report.Workers.Where(w => w.Outcome != WorkerOutcome.Ok)) io.Error.WriteLine(failed.ErrorLine);
        io.Out.Flush();
        io.Error.Flush();
        return report.ExitCode;
    }

    public static void StatusTables(IAnsiConsole console, CliReport<PipelineStatus> report)
    {
        foreach (var (worker, status) in Answered(report))
        {
            var line = $"{worker}  region {status.Region}  group {status.Group}  {status.State}  {status.Partitions.Count} partition(s)";
            console.WriteLine(status.Fault is null ? line : $"{line}  fault: {status.Fault}");
            foreach (var rule in status.PauseRules) console.WriteLine($"  pause rule: {rule.Reason} on {rule.Selector}");
        }
        // Owner columns only where a two-subcluster target is involved.
        var owned = Answered(report).Any(a => a.Answer.Partitions.Any(p => p.Owner is not null));
        var table = owned
            ? NewTable("worker", "partition", "table", "position", "committed", "lag", "paused by", "in-flight rows", "owner", "epoch", "holding", "cross-region lag")
            : NewTable("worker", "partition", "table", "position", "committed", "lag", "paused by", "in-flight rows");
        foreach (var (worker, status) in Answered(report))
        {
            foreach (var p in status.Partitions)
            {
                string[] cells = [worker, $"{p.Topic}[{p.Partition}]", p.Table, Number(p.Position), Number(p.Committed), Number(p.Lag),
                    p.PausedBy.Count == 0 ? "-" : string.Join(",", p.PausedBy), Number(p.InFlightRows)];
                if (owned) cells = [.. cells, p.Owner ?? "-", Number(p.Epoch), p.Holding ?? "-", Number(p.CrossRegionLag)];
                Row(table, cells);
            }
        }
        if (table.Rows.Count > 0) console.Write(table);
    }

    public static void PauseTables(IAnsiConsole console, CliReport<PauseResult> report, string done)
    {
        var table = NewTable("worker", "partition", "table", "paused by");
        foreach (var (worker, result) in Answered(report))
        {
            console.WriteLine($"{worker}  {done} {result.Selector} ({result.Reason}): {result.Partitions.Count} partition(s) assigned here matched");
            foreach (var p in result.Partitions)
                Row(table, worker, $"{p.Topic}[{p.Partition}]", p.Table, p.PausedBy.Count == 0 ? "-" : string.Join(",", p.PausedBy));
        }
        if (table.Rows.Count > 0) console.Write(table);
    }

    public static void FlushTables(IAnsiConsole console, CliReport<FlushResult> report)
    {
        var table = NewTable("worker", "partition", "table", "committed");
        foreach (var (worker, result) in Answered(report))
        {
            console.WriteLine($"{worker}  region {result.Region}  group {result.Group}  flushed {result.Positions.Count} partition(s)");
            foreach (var p in result.Positions) Row(table, worker, $"{p.Topic}[{p.Partition}]", p.Table, Number(p.Committed));
        }
        if (table.Rows.Count > 0) console.Write(table);
    }

    private static IEnumerable<(string Worker, T Answer)> Answered<T>(CliReport<T> report)
        where T : class =>
        report.Workers.Where(w => w.Answer is not null).Select(w => (w.Worker, w.Answer!));

    internal static Table NewTable(params string[] columns)
    {
        var table = new Table { Border = TableBorder.Simple };
        foreach (var c in columns) table.AddColumn(new TableColumn(Markup.Escape(c)));
        return table;
    }

    // Cells are Text, not markup: topic names and errors may hold '[' and ']'.
    internal static void Row(Table table, params string[] cells) => table.AddRow(cells.Select(c => new Text(c)).ToArray());

    internal static string Number(long? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}

using System.Globalization;
using System.Text;

namespace Ingest.LoadHarness;

/// <summary>rows.svg: rows (messages, for the consume-only contenders) over seconds since each contender started, one
/// line per contender, from its first round: start-up, drain slope and tail side by side. Plain SVG, no dependency.</summary>
internal static partial class SideBySide
{
    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

    private static string Plot(List<RunResult> results, long messages)
    {
        const int width = 900, height = 520, left = 80, right = 330, top = 30, bottom = 50;
        var runs = results.GroupBy(r => r.Contender).Select(g => g.OrderBy(r => r.Round).First()).Where(r => r.Series.Count > 0).ToList();
        var maxT = Math.Max(1, runs.SelectMany(r => r.Series).Select(p => p[0]).DefaultIfEmpty(1).Max());
        maxT = NiceCeiling(maxT);
        var maxY = (double)Math.Max(messages, runs.SelectMany(r => r.Series).Select(p => (long)p[1]).DefaultIfEmpty(1).Max());
        var plotW = width - left - right;
        var plotH = height - top - bottom;
        string X(double t) => (left + t / maxT * plotW).ToString("0.0", CultureInfo.InvariantCulture);
        string Y(double rows) => (top + plotH - rows / maxY * plotH).ToString("0.0", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">""");
        svg.AppendLine("""<rect width="100%" height="100%" fill="white"/>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{left}" y="18" font-size="14">Rows over time, {messages:N0} messages, round 1 of each contender</text>""");
        for (var i = 0; i <= 5; i++)
        {
            var t = maxT * i / 5;
            var rows = maxY * i / 5;
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{X(t)}" y1="{top}" x2="{X(t)}" y2="{top + plotH}" stroke="#ddd"/><text x="{X(t)}" y="{top + plotH + 16}" text-anchor="middle">{t:0.#}</text>""");
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{left}" y1="{Y(rows)}" x2="{left + plotW}" y2="{Y(rows)}" stroke="#ddd"/><text x="{left - 6}" y="{Y(rows)}" text-anchor="end" dominant-baseline="middle">{rows / 1e6:0.0#}M</text>""");
        }
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{left + plotW / 2}" y="{height - 12}" text-anchor="middle">seconds since the contender started</text>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect x="{left}" y="{top}" width="{plotW}" height="{plotH}" fill="none" stroke="#888"/>""");
        for (var i = 0; i < runs.Count; i++)
        {
            var color = Colors[i % Colors.Length];
            var points = string.Join(' ', runs[i].Series.Select(p => $"{X(p[0])},{Y(p[1])}"));
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>""");
            var y = top + 10 + i * 20;
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{left + plotW + 15}" y1="{y}" x2="{left + plotW + 35}" y2="{y}" stroke="{color}" stroke-width="3"/><text x="{left + plotW + 40}" y="{y}" dominant-baseline="middle">{Escape(runs[i].Contender)}: {F(runs[i].DrainRowsPerSecond, "N0")} rows/s</text>""");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static double NiceCeiling(double v)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var step in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (step * magnitude >= v) return step * magnitude;
        }
        return 10 * magnitude;
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}

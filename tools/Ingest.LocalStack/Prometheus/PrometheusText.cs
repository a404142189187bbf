using System.Globalization;
using System.Text;

namespace Ingest.LocalStack.Prometheus;

/// <summary>The samples of a Prometheus text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format),
/// for tests and the demo reading a worker's /metrics.</summary>
public static class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var i = 0;
            while (i < line.Length && line[i] is not ('{' or ' ')) i++;
            var name = line[..i];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (i < line.Length && line[i] == '{') i = ParseLabels(line, i + 1, labels);
            var rest = line[i..].Trim().Split(' ');
            samples.Add(new Sample(name, labels, ParseValue(rest[0])));
        }
        return samples;
    }

    /// <summary>The samples of one metric (exact name: <c>x_bucket</c> is not <c>x</c>).</summary>
    public static List<Sample> Samples(string text, string name) => [.. Parse(text).Where(s => s.Name == name)];

    /// <summary>The sum over every label set of <paramref name="name"/>; 0 when it has no sample yet.</summary>
    public static double Sum(string text, string name) => Samples(text, name).Sum(s => s.Value);

    private static int ParseLabels(string line, int i, Dictionary<string, string> labels)
    {
        while (i < line.Length && line[i] != '}')
        {
            if (line[i] is ',' or ' ')
            {
                i++;
                continue;
            }
            var eq = line.IndexOf('=', i);
            var key = line[i..eq];
            i = eq + 2; // past ="
            var value = new StringBuilder();
            for (; line[i] != '"'; i++)
            {
                if (line[i] == '\\')
                {
                    i++;
                    value.Append(line[i] == 'n' ? '\n' : line[i]);
                }
                else
                {
                    value.Append(line[i]);
                }
            }
            labels[key] = value.ToString();
            i++;
        }
        return i + 1;
    }

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}

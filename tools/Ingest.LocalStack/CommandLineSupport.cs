using System.CommandLine;
using System.Globalization;
using System.Numerics;

namespace Ingest.LocalStack;

/// <summary>What the command-line tools (this one and perf/Ingest.LoadHarness) share on top of System.CommandLine.</summary>
internal static class CommandLineSupport
{
    /// <summary>An integer option between <paramref name="min"/> and <paramref name="max"/>. Parsed here rather than
    /// checked by a validator: System.CommandLine runs validators even when the value did not convert, and reading
    /// it there throws instead of reporting the bad input.</summary>
    public static Option<T> Number<T>(string name, string description, T defaultValue, T min, T? max = null)
        where T : struct, IBinaryInteger<T>
    {
        var range = max is { } m ? $"from {min} to {m}" : $"{min} or more";
        return new Option<T>(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (T.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && (max is null || value <= max))
                    return value;
                result.AddError($"{name} '{text}': expected a whole number {range}");
                return defaultValue;
            },
        };
    }

    /// <summary>Runs what the command line asked for. On a usage error System.CommandLine prints the errors and the
    /// usage; the exit code is then 2, the usual one for a usage error (it would return 1, like a failed run).</summary>
    public static async Task<int> InvokeAsync(ParseResult parsed, InvocationConfiguration? configuration = null)
    {
        var exit = await parsed.InvokeAsync(configuration).ConfigureAwait(false);
        return parsed.Errors.Count > 0 ? 2 : exit;
    }
}

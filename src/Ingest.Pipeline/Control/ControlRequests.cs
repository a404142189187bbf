using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>Body of the admin API's <c>POST /pause</c> and <c>POST /resume</c>; every field is optional (all partitions,
/// reason operator). Unknown fields are refused so that a typo (<c>"topics"</c>) cannot widen a pause to every partition.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PauseRequest(string? Topic = null, IReadOnlyList<int>? Partitions = null, string? Reason = null);

/// <summary>Body of the admin API's <c>POST /flush</c>; <see cref="Timeout"/> as <see cref="ControlTimeout"/> reads it.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record FlushRequest(string? Topic = null, IReadOnlyList<int>? Partitions = null, string? Timeout = null);

/// <summary>An RFC 9457 problem document (<c>application/problem+json</c>): how the admin API answers an error.</summary>
public sealed record ControlProblem(string Title, int Status, string Detail, string Type = "about:blank");

/// <summary>Reads a selector as the admin API and the CLI both take it, so both refuse the same input with the same words.</summary>
public static class ControlInput
{
    public const string ReasonNames = "operator, backup, target-failed";

    /// <summary>The selector, or what is wrong with it.</summary>
    public static PartitionSelector Selector(string? topic, IReadOnlyList<int>? partitions, out string? problem)
    {
        var selector = new PartitionSelector(topic, partitions is { Count: > 0 } ? partitions : null);
        problem = topic is { } t && string.IsNullOrWhiteSpace(t) ? "topic must not be empty" : selector.Problem();
        return selector;
    }

    /// <summary>The reason (operator when absent), or null with <paramref name="problem"/> saying why.</summary>
    public static PauseReasons? Reason(string? text, out string? problem)
    {
        var reason = ExternalPauseReasons.Parse(text);
        problem = reason is null ? $"unknown reason '{text}': expected one of {ReasonNames}" : null;
        return reason;
    }
}

/// <summary>Durations as an operator types them: <c>500ms</c>, <c>30s</c>, <c>2m</c>, <c>1h</c>, a bare number of
/// seconds, or <c>hh:mm:ss</c>.</summary>
public static class ControlTimeout
{
    public static readonly TimeSpan Max = TimeSpan.FromHours(1);

    /// <summary>The duration, or null with <paramref name="problem"/> naming what is wrong.</summary>
    public static TimeSpan? Parse(string text, out string? problem)
    {
        problem = null;
        var t = text.Trim();
        var (number, unit) =
            t.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (t[..^2], TimeSpan.FromMilliseconds(1))
            : t.EndsWith('s') || t.EndsWith('S') ? (t[..^1], TimeSpan.FromSeconds(1))
            : t.EndsWith('m') || t.EndsWith('M') ? (t[..^1], TimeSpan.FromMinutes(1))
            : t.EndsWith('h') || t.EndsWith('H') ? (t[..^1], TimeSpan.FromHours(1))
            : (t, TimeSpan.FromSeconds(1));
        TimeSpan value;
        if (double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && double.IsFinite(n))
            value = unit * n;
        else if (!TimeSpan.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out value))
        {
            problem = $"timeout '{text}' is not a duration (e.g. 30s, 500ms, 2m, 00:01:30)";
            return null;
        }
        if (value <= TimeSpan.Zero || value > Max)
        {
            problem = $"timeout '{text}' must be > 0 and at most {Format(Max)}";
            return null;
        }
        return value;
    }

    /// <summary>The shortest text <see cref="Parse"/> reads back to the same value (whole seconds, else milliseconds).</summary>
    public static string Format(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerSecond == 0
            ? $"{(long)value.TotalSeconds}s"
            : $"{(long)Math.Ceiling(value.TotalMilliseconds)}ms";
}

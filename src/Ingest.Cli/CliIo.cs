using Spectre.Console;

namespace Ingest.Cli;

/// <summary>Where the CLI reads its environment and writes its output; tests run the verbs in-process with their own.</summary>
internal sealed record CliIo(TextWriter Out, TextWriter Error, Func<string, string?> Environment)
{
    public static CliIo System => new(Console.Out, Console.Error, global::System.Environment.GetEnvironmentVariable) { ProcessTerminationTimeout = TimeSpan.FromSeconds(2) };

    /// <summary>Null in tests: Ctrl+C handling hooks the process, not the test.</summary>
    public TimeSpan? ProcessTerminationTimeout { get; init; }

    /// <summary>Fixed table width (tests); null: the terminal's.</summary>
    public int? Width { get; init; }

    public IAnsiConsole CreateConsole()
    {
        var console = Width is null
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Out) })
            : AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(Out),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
        if (Width is { } width) console.Profile.Width = width;
        // Written to a file or a pipe, Spectre assumes 80 columns and wraps every wide table; take $COLUMNS, else room
        // for a partition table's usual width.
        else if (Out == Console.Out && Console.IsOutputRedirected)
            console.Profile.Width = int.TryParse(Environment("COLUMNS"), out var columns) && columns > 0 ? columns : 200;
        return console;
    }
}

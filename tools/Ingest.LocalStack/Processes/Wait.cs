using System.Diagnostics;

namespace Ingest.LocalStack.Processes;

public static class Wait
{
    /// <summary>Polls <paramref name="ready"/> until it returns true; fails naming <paramref name="what"/> and the
    /// tail of the service's log when the process died or the deadline passed.</summary>
    public static async Task UntilAsync(string what, Process process, string logFile, TimeSpan timeout, Func<Task<bool>> ready, CancellationToken ct = default)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited)
                throw new InvalidOperationException($"{what} exited with code {process.ExitCode} while starting. Log {logFile}:\n{Tail(logFile)}");
            try
            {
                if (await ready().ConfigureAwait(false)) return;
            }
            catch (Exception) when (sw.Elapsed < timeout)
            {
                // not up yet
            }
            if (sw.Elapsed > timeout)
                throw new TimeoutException($"{what} was not ready after {timeout.TotalSeconds:0} s. Log {logFile}:\n{Tail(logFile)}");
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    public static string Tail(string file, int lines = 30)
    {
        try
        {
            return string.Join('\n', File.ReadLines(file).TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}

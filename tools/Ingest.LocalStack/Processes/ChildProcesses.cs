using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ingest.LocalStack.Processes;

/// <summary>Starts service processes so that they can never outlive us: each child runs under
/// <c>setpriv --pdeathsig KILL</c>, so the kernel kills it when its parent dies (test host crash, kill -9,
/// CI timeout). PR_SET_PDEATHSIG fires when the parent *thread* that forked the child exits, so every child
/// is forked from one dedicated thread that lives as long as the process; a thread-pool thread would retire
/// after idling and take the services with it.</summary>
public static partial class ChildProcesses
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Requests = [];
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    static ChildProcesses()
    {
        var forker = new Thread(() =>
        {
            foreach (var (info, done) in Requests.GetConsumingEnumerable())
            {
                try
                {
                    var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
                    Live[p.Id] = p;
                    done.SetResult(p);
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        })
        { IsBackground = true, Name = "ingest-child-forker" };
        forker.Start();
        // Normal exit (also after an unhandled exception): kill what is still running.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    /// <summary>Starts <paramref name="command"/> with stdout and stderr appended to <paramref name="logFile"/>.</summary>
    public static Process Start(string command, IEnumerable<string> args, string logFile, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(logFile)!,
        };
        // bash only redirects, then becomes setpriv, which sets the death signal and becomes the service.
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec setpriv --pdeathsig KILL -- \"$@\" </dev/null >>\"$INGEST_CHILD_LOG\" 2>&1");
        info.ArgumentList.Add("ingest-child");
        info.ArgumentList.Add(command);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["INGEST_CHILD_LOG"] = logFile;
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;

        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((info, done));
        return done.Task.GetAwaiter().GetResult();
    }

    /// <summary>SIGKILL and reap. Services here are disposable; a graceful stop is asked for explicitly.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        Live.TryRemove(process.Id, out _);
    }

    /// <summary>SIGSTOP: the process keeps its sockets open but answers nothing (a hung server, not a dead one).</summary>
    public static void Freeze(Process process) => Send(process, 19);

    /// <summary>SIGCONT: undoes <see cref="Freeze"/>.</summary>
    public static void Thaw(Process process) => Send(process, 18);

    /// <summary>SIGTERM: asks for a graceful stop.</summary>
    public static void Terminate(Process process) => Send(process, 15);

    private static void Send(Process process, int signal)
    {
        if (Native.Kill(process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public static int LiveCount => Live.Count(kv => !kv.Value.HasExited);

    public static void KillAll()
    {
        foreach (var p in Live.Values) Kill(p);
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int sig);
    }
}

using System.Globalization;

namespace Ingest.LoadHarness;

/// <summary>CPU and peak memory of processes, read from /proc. A process tree is followed because the contenders run
/// under wrappers (setpriv, /usr/bin/time, bash for a pipeline) whose children do the work.</summary>
internal static class ProcStat
{
    /// <summary>Clock ticks per second of utime/stime: 100 on every Linux this runs on (getconf CLK_TCK).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>utime + stime in seconds, or null when the process is gone.</summary>
    public static double? CpuSeconds(int pid)
    {
        var fields = StatFields(pid);
        if (fields is null) return null;
        // Fields after "(comm) " start at field 3 (state); utime and stime are fields 14 and 15.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>VmHWM (peak resident set) in bytes, or null when the process is gone.</summary>
    public static long? PeakRssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    public static string? Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary><paramref name="root"/> and every live descendant (one scan of /proc).</summary>
    public static List<int> Tree(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)) continue;
            if (StatFields(pid) is { } f) parents[pid] = int.Parse(f[1], CultureInfo.InvariantCulture);
        }
        var tree = new List<int> { root };
        for (var i = 0; i < tree.Count; i++)
            tree.AddRange(parents.Where(p => p.Value == tree[i]).Select(p => p.Key));
        return tree;
    }

    /// <summary>The ClickHouse server started with this config file (a child of this process, under setpriv).</summary>
    public static int? FindClickHouse(string configFile)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.StartsWith("/usr/sbin/clickhouse-server", StringComparison.Ordinal) && cmdline.Contains(configFile, StringComparison.Ordinal)) return pid;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    /// <summary>The first process whose command line contains every one of <paramref name="parts"/>.</summary>
    public static int? FindByCommandLine(params string[] parts)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (parts.All(p => cmdline.Contains(p, StringComparison.Ordinal))) return pid;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return null;
    }

    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>Follows one contender's process tree every 100 ms, keeping each process's last CPU reading and peak RSS:
/// a process that exits between two samples loses at most 100 ms of CPU, which is why a contender that exits by
/// itself is also timed exactly by /usr/bin/time.</summary>
internal sealed class TreeSampler : IAsyncDisposable
{
    // Wrappers that only wait for the contender; their few MB are not the contender's memory.
    private static readonly HashSet<string> Wrappers = ["time", "bash", "setpriv", "timeout"];
    private readonly int _root;
    private readonly Dictionary<int, double> _cpu = [];
    private readonly Dictionary<int, long> _rss = [];
    private readonly Dictionary<int, string> _comm = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _gate = new();

    public TreeSampler(int root)
    {
        _root = root;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Sample();
                try
                {
                    await Task.Delay(100, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    public void Sample()
    {
        foreach (var pid in ProcStat.Tree(_root))
        {
            var cpu = ProcStat.CpuSeconds(pid);
            var rss = ProcStat.PeakRssBytes(pid);
            lock (_gate)
            {
                if (!_comm.ContainsKey(pid) && ProcStat.Comm(pid) is { } comm) _comm[pid] = comm;
                if (cpu is { } c) _cpu[pid] = c;
                if (rss is { } r) _rss[pid] = Math.Max(r, _rss.GetValueOrDefault(pid));
            }
        }
    }

    public double CpuSeconds
    {
        get
        {
            lock (_gate) return _cpu.Values.Sum();
        }
    }

    /// <summary>Sum of the peaks of the working processes (for a pipeline: kcat's plus clickhouse-client's).</summary>
    public long PeakRssBytes
    {
        get
        {
            lock (_gate) return _rss.Where(kv => !Wrappers.Contains(_comm.GetValueOrDefault(kv.Key, ""))).Sum(kv => kv.Value);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>The machine's CPU time from /proc/stat's first line (jiffies, all cores): whether a contender left a
/// core idle, i.e. whether more threads could have helped it.</summary>
internal readonly record struct MachineCpu(long Busy, long Total)
{
    public static MachineCpu Read()
    {
        // cpu user nice system idle iowait irq softirq steal ...: idle and iowait are the idle time.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long total = 0, idle = 0;
        for (var i = 1; i <= 8 && i < fields.Length; i++)
        {
            var v = long.Parse(fields[i], CultureInfo.InvariantCulture);
            total += v;
            if (i is 4 or 5) idle += v;
        }
        return new MachineCpu(total - idle, total);
    }

    public double? BusySince(MachineCpu from) => Total > from.Total ? (double)(Busy - from.Busy) / (Total - from.Total) : null;
}

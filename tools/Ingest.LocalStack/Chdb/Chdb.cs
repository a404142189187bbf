using System.Runtime.InteropServices;
using System.Text;

namespace Ingest.LocalStack.Chdb;

/// <summary>chDB 26.7 (embedded modern ClickHouse, libchdb.so from npm @chdb/lib-linux-x64-gnu) through its C API:
/// the oracle proving our Native blocks and DDL are accepted by current ClickHouse, including types and
/// settings 18.16 lacks. One engine per process (chDB's limit), so this is a process-wide instance; queries are
/// serialized, and the engine lives until the process exits (chDB cannot restart inside one process).</summary>
public sealed unsafe class Chdb
{
    private static readonly Lock Gate = new();
    private static Chdb? _instance;

    private readonly IntPtr _connection;
    private readonly IntPtr _handle;
    private readonly delegate* unmanaged<IntPtr, byte*, byte*, IntPtr> _query;
    private readonly delegate* unmanaged<IntPtr, byte*> _resultBuffer;
    private readonly delegate* unmanaged<IntPtr, nuint> _resultLength;
    private readonly delegate* unmanaged<IntPtr, byte*> _resultError;
    private readonly delegate* unmanaged<IntPtr, void> _destroyResult;

    private Chdb(string libraryPath, string dataPath)
    {
        if (!File.Exists(libraryPath))
            throw new InvalidOperationException($"chDB library not found at {libraryPath}: run scripts/chdb.sh (or scripts/bootstrap.sh)");
        var library = NativeLibrary.Load(libraryPath);
        var setSignalHandlers = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "chdb_set_signal_handlers_enabled");
        var connect = (delegate* unmanaged<int, byte**, IntPtr>)NativeLibrary.GetExport(library, "chdb_connect");
        _query = (delegate* unmanaged<IntPtr, byte*, byte*, IntPtr>)NativeLibrary.GetExport(library, "chdb_query");
        _resultBuffer = (delegate* unmanaged<IntPtr, byte*>)NativeLibrary.GetExport(library, "chdb_result_buffer");
        _resultLength = (delegate* unmanaged<IntPtr, nuint>)NativeLibrary.GetExport(library, "chdb_result_length");
        _resultError = (delegate* unmanaged<IntPtr, byte*>)NativeLibrary.GetExport(library, "chdb_result_error");
        _destroyResult = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(library, "chdb_destroy_query_result");

        // Must precede chdb_connect: ClickHouse's own signal handlers would turn the next .NET
        // NullReferenceException in this process into a segfault (exit 139).
        setSignalHandlers(0);
        Directory.CreateDirectory(dataPath);
        var args = new[] { "clickhouse", $"--path={dataPath}" };
        var utf8 = args.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
        try
        {
            fixed (IntPtr* argv = utf8)
                _connection = connect(args.Length, (byte**)argv);
        }
        finally
        {
            foreach (var p in utf8) Marshal.FreeCoTaskMem(p);
        }
        if (_connection == IntPtr.Zero) throw new InvalidOperationException("chdb_connect failed");
        // chdb_connect returns a pointer to the connection handle: queries take the handle, close takes the pointer.
        _handle = Marshal.ReadIntPtr(_connection);
        DataPath = dataPath;
    }

    public string DataPath { get; }

    /// <summary>The process's chDB engine, started on first use with its data in a temporary directory.</summary>
    public static Chdb Shared
    {
        get
        {
            lock (Gate)
            {
                if (_instance is null)
                {
                    var dataPath = Path.Combine(Path.GetTempPath(), $"ingest-chdb-{Environment.ProcessId}");
                    _instance = new Chdb(RepoPaths.ChdbLibrary, dataPath);
                    AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                    {
                        try
                        {
                            Directory.Delete(dataPath, recursive: true);
                        }
                        catch (IOException)
                        {
                        }
                    };
                }
                return _instance;
            }
        }
    }

    /// <summary>Runs <paramref name="sql"/> and returns the answer in <paramref name="format"/> as text.</summary>
    public string Query(string sql, string format = "TSV") => Encoding.UTF8.GetString(QueryBytes(sql, format));

    /// <summary>Runs <paramref name="sql"/>; throws <see cref="ChdbException"/> with chDB's message on error.</summary>
    public byte[] QueryBytes(string sql, string format = "TSV")
    {
        lock (Gate)
        {
            var sqlBytes = Encoding.UTF8.GetBytes(sql + "\0");
            var formatBytes = Encoding.UTF8.GetBytes(format + "\0");
            IntPtr result;
            fixed (byte* s = sqlBytes)
            fixed (byte* f = formatBytes)
                result = _query(_handle, s, f);
            if (result == IntPtr.Zero) throw new ChdbException("chdb_query returned no result");
            try
            {
                var error = _resultError(result);
                if (error != null) throw new ChdbException(Marshal.PtrToStringUTF8((IntPtr)error) ?? "unknown chDB error");
                var buffer = _resultBuffer(result);
                // DDL and INSERT answer with a null buffer.
                if (buffer == null) return [];
                return new ReadOnlySpan<byte>(buffer, checked((int)_resultLength(result))).ToArray();
            }
            finally
            {
                _destroyResult(result);
            }
        }
    }
}

public sealed class ChdbException(string message) : Exception(message);

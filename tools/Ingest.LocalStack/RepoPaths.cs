namespace Ingest.LocalStack;

/// <summary>Where the repository and its script-built artifacts (.local/) are, found from the running assembly.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ingest.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"Ingest.sln not found above {AppContext.BaseDirectory}");
    });

    public static string Root => RootPath.Value;

    /// <summary>Debug or Release: the configuration this assembly was built in, so sibling outputs match it.</summary>
    public static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string WorkerDll => Path.Combine(Root, "src", "Ingest.Worker", "bin", Configuration, "net10.0", "Ingest.Worker.dll");

    public static string LocalStackDll => Path.Combine(Root, "tools", "Ingest.LocalStack", "bin", Configuration, "net10.0", "Ingest.LocalStack.dll");

    public static string ChdbLibrary => Environment.GetEnvironmentVariable("INGEST_CHDB_LIB") is { Length: > 0 } p
        ? p
        : Path.Combine(Root, ".local", "chdb", "libchdb.so");
}

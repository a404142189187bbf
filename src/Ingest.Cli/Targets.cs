namespace Ingest.Cli;

/// <summary>The workers a verb goes to and the token it sends, from the options and the environment.</summary>
internal sealed record Targets(IReadOnlyList<Uri> Workers, string Token)
{
    public const string TokenVariable = "INGEST_ADMIN_TOKEN";

    /// <summary>The targets, or null with <paramref name="problem"/> saying what is missing or wrong.</summary>
    public static Targets? Resolve(IReadOnlyList<string> workers, FileInfo? workersFile, string? token, FileInfo? tokenFile,
        Func<string, string?> environment, out string? problem)
    {
        var urls = new List<Uri>();
        problem = null;
        var given = workers.ToList();
        if (workersFile is not null)
        {
            if (ReadWorkersFile(workersFile, out problem) is not { } fromFile) return null;
            given.AddRange(fromFile);
        }
        foreach (var text in given)
        {
            if (ParseWorker(text) is not { } url)
            {
                problem = $"'{text}' is not a worker admin URL (expected http://host:port, the worker's Ingest:Admin:Url)";
                return null;
            }
            if (!urls.Contains(url)) urls.Add(url);
        }
        if (urls.Count == 0)
        {
            problem = "no worker: pass --worker URL (repeatable) or --workers-file FILE";
            return null;
        }
        return ResolveToken(token, tokenFile, environment, out problem) is { } t ? new Targets(urls, t) : null;
    }

    /// <summary>How a worker is named in output: its URL without the trailing slash.</summary>
    public static string Name(Uri worker) => worker.ToString().TrimEnd('/');

    private static Uri? ParseWorker(string text)
    {
        var t = text.Trim();
        if (!t.Contains("://", StringComparison.Ordinal)) t = "http://" + t;
        if (!Uri.TryCreate(t, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || url.Query.Length > 0 || url.Fragment.Length > 0)
            return null;
        // Relative paths (status, pause) resolve under the URL's own path, which needs the trailing slash.
        return url.AbsolutePath.EndsWith('/') ? url : new Uri(url + "/");
    }

    private static List<string>? ReadWorkersFile(FileInfo file, out string? problem)
    {
        problem = null;
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e is FileNotFoundException or DirectoryNotFoundException
                ? $"workers file '{file}' does not exist"
                : $"workers file '{file}' cannot be read ({e.Message})";
            return null;
        }
        var workers = lines.Select(l => (l.IndexOf('#', StringComparison.Ordinal) is var hash and >= 0 ? l[..hash] : l).Trim())
            .Where(l => l.Length > 0).ToList();
        if (workers.Count == 0) problem = $"workers file '{file}' names no worker (one URL per line, # starts a comment)";
        return workers.Count == 0 ? null : workers;
    }

    private static string? ResolveToken(string? token, FileInfo? tokenFile, Func<string, string?> environment, out string? problem)
    {
        problem = null;
        if (token is not null && tokenFile is not null)
        {
            problem = "--token and --token-file are both given; give one";
            return null;
        }
        if (tokenFile is not null)
        {
            try
            {
                var fromFile = File.ReadAllText(tokenFile.FullName).Trim();
                if (fromFile.Length > 0) return fromFile;
                problem = $"token file '{tokenFile}' is empty";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = e is FileNotFoundException or DirectoryNotFoundException
                    ? $"token file '{tokenFile}' does not exist"
                    : $"token file '{tokenFile}' cannot be read ({e.Message})";
            }
            return null;
        }
        var value = token ?? environment(TokenVariable);
        if (!string.IsNullOrWhiteSpace(value)) return value.Trim();
        problem = token is not null
            ? "--token is empty"
            : $"no admin token: pass --token-file FILE or --token TOKEN, or set {TokenVariable} (the worker's Ingest:Admin:Token)";
        return null;
    }
}

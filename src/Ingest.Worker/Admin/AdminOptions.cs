using System.Net;
using Ingest.Pipeline;

namespace Ingest.Worker.Admin;

/// <summary>Configuration section "Ingest:Admin": where the admin API listens and the bearer token it requires.</summary>
internal sealed class AdminOptions
{
    public const string Section = "Ingest:Admin";

    /// <summary>Listen address of the admin API, apart from <c>Urls</c> (health, metrics) so that those can be exposed to
    /// probes and Prometheus while the admin API stays on loopback.</summary>
    public string Url { get; set; } = "http://127.0.0.1:8081";

    public string? Token { get; set; }

    /// <summary>File holding the token (a mounted secret); read once at start, surrounding whitespace trimmed.</summary>
    public string? TokenFile { get; set; }

    /// <summary>The configuration without this section: <c>IngestOptions</c>, checked for unknown keys under "Ingest", does
    /// not bind it (the admin API belongs to the host, not the pipeline); <see cref="AdminSettings.Load"/> checks it.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Outside(IConfiguration configuration) =>
        configuration.AsEnumerable().Where(kv =>
            !kv.Key.Equals(Section, StringComparison.OrdinalIgnoreCase) && !kv.Key.StartsWith(Section + ":", StringComparison.OrdinalIgnoreCase));
}

/// <summary>The admin API as it runs: validated address and the token, or <see cref="Enabled"/> false when no token
/// is configured. Without a token the API does not listen at all: an open pause/flush endpoint would be a way to stop
/// ingestion for anyone who reaches the port.</summary>
internal sealed class AdminSettings
{
    private AdminSettings(Uri url, AdminToken? token)
    {
        Url = url;
        Token = token;
    }

    public Uri Url { get; }

    public AdminToken? Token { get; }

    public bool Enabled => Token is not null;

    /// <summary>Whether <see cref="Url"/> only accepts connections from this machine.</summary>
    public bool IsLoopback =>
        Url.IsLoopback || (IPAddress.TryParse(Url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    public static AdminSettings Disabled(Uri url) => new(url, null);

    public static AdminSettings Create(Uri url, string token) => new(url, new AdminToken(token));

    /// <summary>Reads and validates "Ingest:Admin" (and the token file). Throws <see cref="InvalidOperationException"/>
    /// naming every problem, in the form <c>IngestOptions.Validate</c> uses (the worker exits with code 2).</summary>
    public static AdminSettings Load(IConfiguration configuration)
    {
        // A misspelt key (Ingest:Admin:Tokn) would otherwise leave the admin API silently off.
        var errors = OptionsCheck.Problems<AdminOptions>(configuration.AsEnumerable(), AdminOptions.Section).ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid configuration:\n  " + string.Join("\n  ", errors));
        var options = configuration.GetSection(AdminOptions.Section).Get<AdminOptions>() ?? new AdminOptions();
        var url = ParseUrl(options.Url, ServerUrls(configuration), errors);
        var token = ReadToken(options, errors);
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid configuration:\n  " + string.Join("\n  ", errors));
        return token is null ? Disabled(url!) : Create(url!, token);
    }

    /// <summary>What Kestrel would bind without the admin API: <c>Urls</c>, else <c>HTTP_PORTS</c>/<c>HTTPS_PORTS</c>,
    /// else its own default.</summary>
    public static IReadOnlyList<string> ServerUrls(IConfiguration configuration)
    {
        if (Split(configuration["urls"]) is { Count: > 0 } urls) return urls;
        var ports = Split(configuration["http_ports"]).Select(p => $"http://*:{p}")
            .Concat(Split(configuration["https_ports"]).Select(p => $"https://*:{p}")).ToList();
        return ports.Count > 0 ? ports : ["http://localhost:5000"];
    }

    private static List<string> Split(string? list) =>
        (list ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static Uri? ParseUrl(string? text, IReadOnlyList<string> serverUrls, List<string> errors)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || url.AbsolutePath != "/" || url.Query.Length > 0)
        {
            errors.Add($"Ingest:Admin:Url: '{text}' is not an http(s) listen address such as http://127.0.0.1:8081");
            return null;
        }
        if (url.Port == 0)
            errors.Add($"Ingest:Admin:Url: '{text}' needs a fixed port (the admin API is told apart from Urls by its port)");
        // Admin requests are recognised by the port they arrive on; sharing it with Urls would open the admin API
        // wherever health and metrics are exposed.
        foreach (var other in serverUrls)
        {
            if (Uri.TryCreate(other.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var o)
                && o.Port == url.Port)
                errors.Add($"Ingest:Admin:Url: port {url.Port} is also in Urls ('{other}'); the admin API needs a port of its own");
        }
        return url;
    }

    private static string? ReadToken(AdminOptions options, List<string> errors)
    {
        var hasToken = !string.IsNullOrEmpty(options.Token);
        var hasFile = !string.IsNullOrWhiteSpace(options.TokenFile);
        if (hasToken && hasFile)
        {
            errors.Add("Ingest:Admin:Token and Ingest:Admin:TokenFile are both set; set one");
            return null;
        }
        if (hasToken)
        {
            if (string.IsNullOrWhiteSpace(options.Token)) errors.Add("Ingest:Admin:Token is blank");
            return options.Token!.Trim();
        }
        if (!hasFile) return null;
        var path = options.TokenFile!;
        try
        {
            var token = File.ReadAllText(path).Trim();
            if (token.Length == 0) errors.Add($"Ingest:Admin:TokenFile: '{path}' is empty");
            return token;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"Ingest:Admin:TokenFile: '{path}' cannot be read ({e.Message})");
            return null;
        }
    }
}

using System.Text.Json;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Admin;

/// <summary>The admin HTTP API: <c>GET /status</c>, <c>POST /pause</c>, <c>/resume</c>, <c>/flush</c> on its own listen
/// address, each turned into a call on <see cref="IPipelineControl"/>. Errors are problem documents naming what is wrong.</summary>
internal static class AdminApi
{
    /// <summary>Bodies are a selector and a word or two; anything larger is not a request for this API.</summary>
    private const int MaxBodyBytes = 64 * 1024;

    private const string PauseFields = "topic (string), partitions (array of integers, needs topic), reason (string)";
    private const string FlushFields = "topic (string), partitions (array of integers, needs topic), timeout (string such as \"30s\")";

    private static readonly TimeSpan DefaultFlushTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Registers the settings and, when the API is enabled, adds its address to the ones Kestrel binds.</summary>
    public static WebApplicationBuilder AddAdminApi(this WebApplicationBuilder builder, AdminSettings settings)
    {
        builder.Services.AddSingleton(settings);
        if (settings.Enabled)
            builder.WebHost.UseUrls([.. AdminSettings.ServerUrls(builder.Configuration), settings.Url.ToString().TrimEnd('/')]);
        return builder;
    }

    /// <summary>Maps the admin routes (needs <see cref="AdminSettings"/> from <see cref="AddAdminApi"/> and an
    /// <see cref="IPipelineControl"/> service). Without a token it maps nothing and says so in the log.</summary>
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var settings = endpoints.ServiceProvider.GetRequiredService<AdminSettings>();
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Ingest.Worker.Admin");
        if (settings.Token is not { } token)
        {
            logger.LogWarning("Admin API off: no Ingest:Admin:Token or Ingest:Admin:TokenFile configured, so nothing listens on {Url} (ingest status/pause/resume/flush need it)", settings.Url);
            return endpoints;
        }
        if (!settings.IsLoopback)
            logger.LogWarning("Admin API listens on {Url}, which is not loopback: whoever reaches it can try tokens{Clear}", settings.Url,
                settings.Url.Scheme == Uri.UriSchemeHttp ? ", and plain http carries the token in clear" : "");
        logger.LogInformation("Admin API on {Url} (bearer token required)", settings.Url);

        var api = endpoints.MapGroup("").AddEndpointFilter(new AdminGate(settings, token));
        api.MapGet("/status", (IPipelineControl control) => Results.Json(control.Status, ControlJsonContext.Default.PipelineStatus));
        api.MapPost("/pause", (HttpRequest request, IPipelineControl control, ILoggerFactory logs) =>
            PauseOrResumeAsync(request, logs, (s, r, ct) => control.PauseAsync(s, r, ct)));
        api.MapPost("/resume", (HttpRequest request, IPipelineControl control, ILoggerFactory logs) =>
            PauseOrResumeAsync(request, logs, (s, r, ct) => control.ResumeAsync(s, r, ct)));
        api.MapPost("/flush", FlushAsync);
        api.MapBackupPoints();
        api.MapOwnership();
        return endpoints;
    }

    private static async Task<IResult> PauseOrResumeAsync(HttpRequest request, ILoggerFactory logs,
        Func<PartitionSelector, PauseReasons, CancellationToken, Task<PauseResult>> command)
    {
        var (body, bad) = await ReadBodyAsync(request, ControlJsonContext.Default.PauseRequest, PauseFields);
        if (bad is not null) return bad;
        body ??= new PauseRequest();
        var selector = ControlInput.Selector(body.Topic, body.Partitions, out var problem);
        var reason = ControlInput.Reason(body.Reason, out var reasonProblem);
        if ((problem ?? reasonProblem) is { } p) return AdminResults.Problem(StatusCodes.Status400BadRequest, p);
        return await RunAsync(request, logs, async ct =>
            Results.Json(await command(selector, reason!.Value, ct), ControlJsonContext.Default.PauseResult), request.HttpContext.RequestAborted);
    }

    private static async Task<IResult> FlushAsync(HttpRequest request, IPipelineControl control, ILoggerFactory logs)
    {
        var (body, bad) = await ReadBodyAsync(request, ControlJsonContext.Default.FlushRequest, FlushFields);
        if (bad is not null) return bad;
        body ??= new FlushRequest();
        var selector = ControlInput.Selector(body.Topic, body.Partitions, out var problem);
        if (problem is not null) return AdminResults.Problem(StatusCodes.Status400BadRequest, problem);
        var queryTimeout = request.Query["timeout"].ToString();
        if (queryTimeout.Length > 0 && body.Timeout is not null)
            return AdminResults.Problem(StatusCodes.Status400BadRequest, "timeout given both in the query and in the body; give it once");
        var timeoutText = body.Timeout ?? (queryTimeout.Length > 0 ? queryTimeout : null);
        var timeout = DefaultFlushTimeout;
        if (timeoutText is not null)
        {
            if (ControlTimeout.Parse(timeoutText, out var timeoutProblem) is not { } parsed)
                return AdminResults.Problem(StatusCodes.Status400BadRequest, timeoutProblem!);
            timeout = parsed;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(request.HttpContext.RequestAborted);
        deadline.CancelAfter(timeout);
        try
        {
            return await RunAsync(request, logs, async ct =>
                // WaitAsync: the deadline holds even if a flush does not watch its token.
                Results.Json(await control.FlushAsync(selector, ct).WaitAsync(ct), ControlJsonContext.Default.FlushResult), deadline.Token);
        }
        catch (OperationCanceledException) when (!request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            return AdminResults.Problem(StatusCodes.Status504GatewayTimeout,
                $"flush of {selector} did not finish within {ControlTimeout.Format(timeout)}; the worker goes on delivering, nothing was undone");
        }
    }

    /// <summary>Runs a command, turning the pipeline's refusals into problem answers.</summary>
    private static async Task<IResult> RunAsync(HttpRequest request, ILoggerFactory logs, Func<CancellationToken, Task<IResult>> command, CancellationToken ct)
    {
        try
        {
            return await command(ct);
        }
        catch (PipelineNotRunningException e)
        {
            return AdminResults.Problem(StatusCodes.Status503ServiceUnavailable, e.Message);
        }
        catch (NotSupportedException)
        {
            return AdminResults.Problem(StatusCodes.Status501NotImplemented, $"{request.Path} is not supported by this worker's pipeline");
        }
        catch (ArgumentException e)
        {
            // The pipeline refuses what the API cannot check alone (a reason only the pipeline sets).
            var message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            return AdminResults.Problem(StatusCodes.Status400BadRequest, message);
        }
        catch (InvalidOperationException e)
        {
            // The pipeline's state stands in the way (a failed route cannot be flushed): the operator's move, not a bug.
            return AdminResults.Problem(StatusCodes.Status409Conflict, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logs.CreateLogger("Ingest.Worker.Admin").LogError(e, "Admin {Path} failed", request.Path);
            return AdminResults.Problem(StatusCodes.Status500InternalServerError, $"{request.Path} failed: {e.Message}");
        }
    }

    /// <summary>The body as <typeparamref name="T"/> (null when empty), or a 400/413 answer naming what is wrong.</summary>
    internal static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string fields)
        where T : class
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
                return (null, AdminResults.Problem(StatusCodes.Status413PayloadTooLarge, $"request body larger than {MaxBodyBytes / 1024} KiB"));
            buffer.Write(chunk, 0, read);
        }
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Trim(" \t\r\n"u8).IsEmpty) return (null, null);
        try
        {
            return (JsonSerializer.Deserialize(bytes, type), null);
        }
        catch (JsonException e)
        {
            return (null, AdminResults.Problem(StatusCodes.Status400BadRequest, $"bad JSON body: {Describe(e, fields)}"));
        }
    }

    /// <summary>What is wrong, in the caller's terms: System.Text.Json names .NET types, which mean nothing to a caller.</summary>
    private static string Describe(JsonException e, string fields)
    {
        const string unmapped = "The JSON property '";
        if (e.Message.StartsWith(unmapped, StringComparison.Ordinal))
        {
            var name = e.Message[unmapped.Length..e.Message.IndexOf('\'', unmapped.Length)];
            return $"unknown field '{name}' (the fields are {fields})";
        }
        if (e.Message.Contains("could not be converted", StringComparison.Ordinal))
            return e.Path is null or "$" ? $"expected a JSON object with the fields {fields}" : $"{e.Path} has the wrong type (the fields are {fields})";
        return e.Message;
    }
}

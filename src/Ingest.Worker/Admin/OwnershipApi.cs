using Ingest.Pipeline;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Regions;

namespace Ingest.Worker.Admin;

/// <summary><c>GET /ownership</c>, <c>POST /ownership/takeover</c> and <c>POST /ownership/failback</c> for the worker's
/// two-subcluster routes. The claims they write are read by every worker of both regions within FollowInterval.</summary>
internal static class OwnershipApi
{
    private const string Fields = "from (string, takeover) or to (string, failback), force (boolean), dryRun (boolean), timeout (string such as \"60s\", failback)";

    private static readonly TimeSpan DefaultReleaseWait = TimeSpan.FromSeconds(60);

    /// <summary>One ownership change at a time through a worker (two at once would claim the same epoch).</summary>
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public static void MapOwnership(this RouteGroupBuilder api)
    {
        api.MapGet("/ownership", (IngestOptions options, ILoggerFactory logs, HttpContext http) =>
            RunAsync(logs, ct => Commands(options, logs).ShowAsync(ct), http.RequestAborted));
        api.MapPost("/ownership/takeover", (HttpRequest request, IngestOptions options, ILoggerFactory logs) => ChangeAsync(request, options, logs, takeover: true));
        api.MapPost("/ownership/failback", (HttpRequest request, IngestOptions options, ILoggerFactory logs) => ChangeAsync(request, options, logs, takeover: false));
    }

    private static OwnershipCommands Commands(IngestOptions options, ILoggerFactory logs) => new(options, logs.CreateLogger("Ingest.Ownership"));

    private static async Task<IResult> ChangeAsync(HttpRequest request, IngestOptions options, ILoggerFactory logs, bool takeover)
    {
        var (body, bad) = await AdminApi.ReadBodyAsync(request, ControlJsonContext.Default.OwnershipRequest, Fields);
        if (bad is not null) return bad;
        var region = takeover ? body?.From : body?.To;
        if (string.IsNullOrWhiteSpace(region))
            return AdminResults.Problem(StatusCodes.Status400BadRequest, $"{(takeover ? "from" : "to")} is required: the other region (the fields are {Fields})");
        var wait = DefaultReleaseWait;
        if (body!.Timeout is { } text)
        {
            if (takeover) return AdminResults.Problem(StatusCodes.Status400BadRequest, "timeout applies to failback only (takeover does not wait for anyone)");
            if (ControlTimeout.Parse(text, out var problem) is not { } parsed) return AdminResults.Problem(StatusCodes.Status400BadRequest, problem!);
            wait = parsed;
        }
        if (!await OneAtATime.WaitAsync(0)) return AdminResults.Problem(StatusCodes.Status409Conflict, "an ownership change is already running through this worker");
        try
        {
            var commands = Commands(options, logs);
            return await RunAsync(logs, ct => takeover
                ? commands.TakeoverAsync(region, body.Force, body.DryRun, ct)
                : commands.FailbackAsync(region, body.Force, body.DryRun, wait, ct), request.HttpContext.RequestAborted);
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    private static async Task<IResult> RunAsync(ILoggerFactory logs, Func<CancellationToken, Task<OwnershipReport>> command, CancellationToken ct)
    {
        try
        {
            return Results.Json(await command(ct), ControlJsonContext.Default.OwnershipReport);
        }
        catch (OwnershipRefusedException e)
        {
            return AdminResults.Problem(StatusCodes.Status409Conflict, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logs.CreateLogger("Ingest.Ownership").LogError(e, "Ownership command failed");
            return AdminResults.Problem(StatusCodes.Status500InternalServerError, $"ownership command failed: {e.Message}");
        }
    }
}

using System.Net.Http.Headers;
using Ingest.Pipeline;
using Ingest.Pipeline.Backup;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Admin;

/// <summary><c>POST /backup-points</c> (take one, coordinating the region's workers given as peers) and
/// <c>GET /backup-points</c> (the region's points).</summary>
internal static class BackupPointsApi
{
    private const string Fields = "name (string), peers (array of admin URLs of the region's other workers), timeout (string such as \"10m\")";

    private static readonly HttpClient Peers = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) }) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>One backup point at a time per coordinating worker.</summary>
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public static void MapBackupPoints(this RouteGroupBuilder api)
    {
        api.MapPost("/backup-points", CreateAsync);
        api.MapGet("/backup-points", ListAsync);
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, IngestOptions options, AdminSettings settings, IPipelineControl control,
        ILoggerFactory logs)
    {
        var (body, bad) = await AdminApi.ReadBodyAsync(request, ControlJsonContext.Default.BackupPointRequest, Fields);
        if (bad is not null) return bad;
        if (body?.Name is not { Length: > 0 } name) return AdminResults.Problem(StatusCodes.Status400BadRequest, $"name is required (the fields are {Fields})");
        var timeout = options.Backup.Timeout;
        if (body.Timeout is { } text)
        {
            if (ControlTimeout.Parse(text, out var problem) is not { } parsed) return AdminResults.Problem(StatusCodes.Status400BadRequest, problem!);
            timeout = parsed;
        }
        var peers = new List<Uri>();
        foreach (var peer in body.Peers ?? [])
        {
            if (!Uri.TryCreate(peer.EndsWith('/') ? peer : peer + "/", UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                return AdminResults.Problem(StatusCodes.Status400BadRequest, $"peer '{peer}' is not a worker admin URL (http://host:port)");
            if (url.Authority != settings.Url.Authority) peers.Add(url);
        }
        if (options.Backup.Backend.Length == 0)
            return AdminResults.Problem(StatusCodes.Status409Conflict,
                $"no backup backend configured on this worker (Ingest:Backup:Backend: {string.Join(", ", BackupOptions.BackendNames)})");
        if (!await OneAtATime.WaitAsync(0)) return AdminResults.Problem(StatusCodes.Status409Conflict, "a backup point is already being taken through this worker");
        var backend = BackupBackends.Create(options);
        try
        {
            using var region = RegionTables.From(options);
            var authorization = AuthenticationHeaderValue.Parse(request.Headers.Authorization.ToString());
            List<IBackupParticipant> workers = [new LocalParticipant(settings.Url.ToString().TrimEnd('/'), control), .. peers.Select(p => new PeerWorker(Peers, p, authorization))];
            var coordinator = new BackupCoordinator(workers, backend, BackupCoordinator.Steps.On(region, options), logs.CreateLogger("Ingest.Backup"))
            {
                BackupTimeout = timeout,
            };
            var report = await coordinator.CreateAsync(name, request.HttpContext.RequestAborted);
            return Results.Json(report, ControlJsonContext.Default.BackupPointReport);
        }
        catch (BackupPointRefusedException e)
        {
            return AdminResults.Problem(StatusCodes.Status409Conflict, e.Message);
        }
        finally
        {
            OneAtATime.Release();
            (backend as IDisposable)?.Dispose();
        }
    }

    private static async Task<IResult> ListAsync(IngestOptions options, HttpContext http)
    {
        using var region = RegionTables.From(options);
        var table = region.BackupPointTables[0];
        try
        {
            var client = await region.FirstReachableAsync(http.RequestAborted);
            var points = await new BackupPointStore(client, table).TryListAsync(region.Region, region.Group, http.RequestAborted);
            return Results.Json(new BackupPointList(region.Region, region.Group, table, [.. points.Select(p => BackupCoordinator.Report(p))]),
                ControlJsonContext.Default.BackupPointList);
        }
        catch (InvalidOperationException e)
        {
            return AdminResults.Problem(StatusCodes.Status503ServiceUnavailable, e.Message);
        }
    }
}

using Ingest.Pipeline.Control;

namespace Ingest.Worker.Admin;

/// <summary>Lets an admin request through only when it arrived on the admin port and carries the token. The port check
/// keeps the admin routes off <c>Urls</c>, which may be exposed to probes and Prometheus; it runs before the handler
/// reads any body, so unauthenticated callers cost nothing.</summary>
internal sealed class AdminGate(AdminSettings settings, AdminToken token) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.Connection.LocalPort != settings.Url.Port) return ValueTask.FromResult<object?>(Results.NotFound());
        if (token.Matches(http.Request.Headers.Authorization)) return next(context);
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return ValueTask.FromResult<object?>(AdminResults.Problem(StatusCodes.Status401Unauthorized,
            "missing or wrong bearer token (send 'Authorization: Bearer <token>', the token of Ingest:Admin:Token or Ingest:Admin:TokenFile)"));
    }
}

internal static class AdminResults
{
    public static IResult Problem(int status, string detail) =>
        Results.Json(new ControlProblem(ReasonPhrase(status), status, detail), ControlJsonContext.Default.ControlProblem,
            contentType: "application/problem+json", statusCode: status);

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : $"HTTP {status}";
}

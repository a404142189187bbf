using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ingest.Pipeline.Control;

namespace Ingest.Worker.Tests.Admin;

/// <summary>The admin API on a real Kestrel: who gets in, what the answers look like, how bad requests are refused.</summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new();
    private AdminServer _server = null!;

    public async Task InitializeAsync() => _server = await AdminServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Bearer s3cret-admin-toke")]
    [InlineData("Bearer s3cret-admin-token-and-more")]
    [InlineData("Basic czNjcmV0LWFkbWluLXRva2Vu")]
    [InlineData("s3cret-admin-token")]
    [InlineData("Bearer")]
    public async Task Every_endpoint_answers_401_without_the_right_bearer_token(string? authorization)
    {
        foreach (var (method, path) in new[] { ("GET", "status"), ("POST", "pause"), ("POST", "resume"), ("POST", "flush"), ("POST", "backup-points"), ("GET", "backup-points"),
                     ("GET", "ownership"), ("POST", "ownership/takeover"), ("POST", "ownership/failback") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(_server.Url, path));
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            var problem = await ProblemAsync(response, 401);
            Assert.Contains("bearer token", problem.Detail, StringComparison.Ordinal);
        }
        Assert.Empty(_server.Control.Calls);
    }

    [Fact]
    public async Task Status_with_the_token_is_the_snapshot_in_camel_case_with_enums_as_strings()
    {
        using var response = await SendAsync(HttpMethod.Get, "status");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal("a", root.GetProperty("region").GetString());
        Assert.Equal("ingest.a", root.GetProperty("group").GetString());
        Assert.Equal("Running", root.GetProperty("state").GetString());
        var first = root.GetProperty("partitions")[0];
        Assert.Equal("events", first.GetProperty("topic").GetString());
        Assert.Equal(50, first.GetProperty("lag").GetInt64());
        Assert.Equal(20, first.GetProperty("inFlightRows").GetInt64());
        Assert.Equal("events", root.GetProperty("pauseRules")[0].GetProperty("selector").GetProperty("topic").GetString());
        Assert.False(root.TryGetProperty("isReady", out _));
        Assert.False(root.TryGetProperty("Region", out _));
    }

    [Fact]
    public async Task The_admin_routes_are_not_served_on_the_health_and_metrics_address()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_server.OtherUrl, "status"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminServer.Token);
        using var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("ok", await Http.GetStringAsync(new Uri(_server.OtherUrl, "health/live")));
    }

    [Fact]
    public async Task Pause_without_a_body_pauses_every_partition_for_the_operator()
    {
        using var response = await SendAsync(HttpMethod.Post, "pause");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var call = Assert.Single(_server.Control.Calls);
        Assert.Equal(("pause", PauseReasons.Operator), (call.Verb, call.Reason));
        Assert.Null(call.Selector.Topic);
        Assert.Null(call.Selector.Partitions);
        var result = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), ControlJsonContext.Default.PauseResult)!;
        Assert.Equal(3, result.Partitions.Count);
    }

    [Theory]
    [InlineData("pause", """{"topic": "events", "partitions": [1, 2], "reason": "backup"}""", "events", "1,2", PauseReasons.Backup)]
    [InlineData("resume", """{"reason": "backup"}""", null, "", PauseReasons.Backup)]
    [InlineData("resume", """{"Topic": "clicks", "reason": "TargetFailed"}""", "clicks", "", PauseReasons.TargetFailed)]
    [InlineData("pause", """{"topic": "events", "partitions": []}""", "events", "", PauseReasons.Operator)]
    [InlineData("pause", "  ", null, "", PauseReasons.Operator)]
    public async Task Pause_and_resume_pass_the_selector_and_reason_through(string verb, string body, string? topic, string partitions, PauseReasons reason)
    {
        using var response = await SendAsync(HttpMethod.Post, verb, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var call = Assert.Single(_server.Control.Calls);
        Assert.Equal(verb, call.Verb);
        Assert.Equal(reason, call.Reason);
        Assert.Equal(topic, call.Selector.Topic);
        Assert.Equal(partitions, string.Join(",", call.Selector.Partitions ?? []));
        var result = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), ControlJsonContext.Default.PauseResult)!;
        Assert.Equal(reason.Name(), result.Reason);
    }

    [Theory]
    [InlineData("pause", "{", "bad JSON body")]
    [InlineData("pause", "[1]", "bad JSON body")]
    [InlineData("pause", """{"topics": "events"}""", "unknown field 'topics'")]
    [InlineData("pause", """{"topic": "events", "partitions": ["x"]}""", "$.partitions[0]")]
    [InlineData("pause", """{"topic": 7}""", "$.topic")]
    [InlineData("pause", """{"partitions": [0]}""", "partitions need a topic")]
    [InlineData("pause", """{"topic": "events", "partitions": [-1]}""", "partitions must be >= 0")]
    [InlineData("pause", """{"topic": ""}""", "topic must not be empty")]
    [InlineData("pause", """{"reason": "holiday"}""", "unknown reason 'holiday'")]
    [InlineData("resume", """{"reason": "backpressure"}""", "unknown reason 'backpressure'")]
    [InlineData("resume", """{"reason": "operator,backup"}""", "unknown reason 'operator,backup'")]
    [InlineData("flush", """{"reason": "operator"}""", "unknown field 'reason'")]
    [InlineData("flush", """{"timeout": "soon"}""", "timeout 'soon' is not a duration")]
    [InlineData("flush", """{"timeout": "-5s"}""", "must be > 0")]
    [InlineData("flush?timeout=1s", """{"timeout": "2s"}""", "timeout given both")]
    [InlineData("flush?timeout=forever", "", "timeout 'forever' is not a duration")]
    public async Task Bad_requests_are_400_problems_naming_what_is_wrong(string path, string body, string expected)
    {
        using var response = await SendAsync(HttpMethod.Post, path, body);
        var problem = await ProblemAsync(response, 400);
        Assert.Contains(expected, problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Ingest.Pipeline", problem.Detail, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    [Theory]
    [InlineData("pause")]
    [InlineData("resume")]
    [InlineData("flush")]
    public async Task A_pipeline_that_is_not_running_answers_503(string verb)
    {
        _server.Control.Refusal = new PipelineNotRunningException(PipelineState.Starting);
        using var response = await SendAsync(HttpMethod.Post, verb);
        var problem = await ProblemAsync(response, 503);
        Assert.Equal("The pipeline is starting: the command was not applied", problem.Detail);
        Assert.Equal("Service Unavailable", problem.Title);
    }

    [Fact]
    public async Task Flush_answers_each_selected_partitions_position()
    {
        using var response = await SendAsync(HttpMethod.Post, "flush", """{"topic": "events", "timeout": "5s"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), ControlJsonContext.Default.FlushResult)!;
        Assert.Equal(["events[0]@120", "events[1]@42"], result.Positions.Select(p => $"{p.Topic}[{p.Partition}]@{p.Committed}"));
        Assert.Equal("events", Assert.Single(_server.Control.Calls).Selector.Topic);
    }

    [Fact]
    public async Task A_flush_past_its_timeout_answers_504_and_cancels_the_command()
    {
        _server.Control.FlushDelay = TimeSpan.FromSeconds(30);
        var started = DateTime.UtcNow;
        using var response = await SendAsync(HttpMethod.Post, "flush?timeout=300ms");
        var problem = await ProblemAsync(response, 504);
        Assert.Contains("did not finish within 300ms", problem.Detail, StringComparison.Ordinal);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.True(_server.Control.FlushWasCancelled);
    }

    [Fact]
    public async Task The_pipelines_own_refusals_are_400_for_the_request_and_409_for_its_state()
    {
        _server.Control.Refusal = new ArgumentException("'target-failed' is set by the pipeline itself; it cannot be set by a command", "reason");
        using (var response = await SendAsync(HttpMethod.Post, "pause", """{"reason": "target-failed"}"""))
            Assert.Equal("'target-failed' is set by the pipeline itself; it cannot be set by a command", (await ProblemAsync(response, 400)).Detail);
        _server.Control.Refusal = new InvalidOperationException("Route events into db.events failed, so its partitions cannot be flushed: dropped");
        using (var response = await SendAsync(HttpMethod.Post, "flush"))
            Assert.Equal("Route events into db.events failed, so its partitions cannot be flushed: dropped", (await ProblemAsync(response, 409)).Detail);
    }

    [Fact]
    public async Task A_pipeline_command_that_fails_unexpectedly_is_a_500_naming_the_error()
    {
        _server.Control.Refusal = new IOException("disk on fire");
        using var response = await SendAsync(HttpMethod.Post, "resume");
        var problem = await ProblemAsync(response, 500);
        Assert.Equal("/resume failed: disk on fire", problem.Detail);
        Assert.Contains(_server.Log.Lines, l => l.StartsWith("Error: Admin /resume failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_body_over_64_KiB_is_refused()
    {
        using var response = await SendAsync(HttpMethod.Post, "pause", $$"""{"topic": "{{new string('x', 70_000)}}"}""");
        await ProblemAsync(response, 413);
        Assert.Empty(_server.Control.Calls);
    }

    [Theory]
    [InlineData("", "name is required")]
    [InlineData("{}", "name is required")]
    [InlineData("""{"name": "p", "peers": ["ftp://x"]}""", "peer 'ftp://x' is not a worker admin URL")]
    [InlineData("""{"name": "p", "timeout": "soon"}""", "timeout 'soon' is not a duration")]
    [InlineData("""{"name": "p", "peer": ["http://x"]}""", "unknown field 'peer'")]
    public async Task A_backup_point_request_that_is_wrong_is_refused_naming_what_and_nothing_pauses(string body, string detail)
    {
        using var response = await SendAsync(HttpMethod.Post, "backup-points", body);
        var problem = await ProblemAsync(response, 400);
        Assert.Contains(detail, problem.Detail, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    [Fact]
    public async Task A_backup_point_on_a_worker_without_a_backend_is_refused_naming_the_setting()
    {
        using var response = await SendAsync(HttpMethod.Post, "backup-points", """{"name": "p"}""");
        var problem = await ProblemAsync(response, 409);
        Assert.Contains("Ingest:Backup:Backend", problem.Detail, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    [Theory]
    [InlineData("ownership/takeover", "", "from is required")]
    [InlineData("ownership/takeover", "{}", "from is required")]
    [InlineData("ownership/takeover", """{"from": " "}""", "from is required")]
    [InlineData("ownership/takeover", """{"to": "a"}""", "from is required")]
    [InlineData("ownership/takeover", """{"form": "a"}""", "unknown field 'form'")]
    [InlineData("ownership/takeover", """{"from": "a", "timeout": "5s"}""", "timeout applies to failback only")]
    [InlineData("ownership/takeover", """{"from": "a", "force": "yes"}""", "$.force")]
    [InlineData("ownership/failback", "", "to is required")]
    [InlineData("ownership/failback", """{"from": "a"}""", "to is required")]
    [InlineData("ownership/failback", """{"to": "a", "timeout": "soon"}""", "timeout 'soon' is not a duration")]
    [InlineData("ownership/failback", """{"to": "a", "timeout": "-5s"}""", "must be > 0")]
    public async Task An_ownership_request_that_is_wrong_is_400_naming_what(string path, string body, string expected)
    {
        using var response = await SendAsync(HttpMethod.Post, path, body);
        var problem = await ProblemAsync(response, 400);
        Assert.Contains(expected, problem.Detail, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    [Theory]
    [InlineData("POST", "ownership/takeover", """{"from": "a"}""")]
    [InlineData("POST", "ownership/failback", """{"to": "b", "dryRun": true}""")]
    [InlineData("GET", "ownership", null)]
    public async Task Ownership_on_a_worker_without_a_two_subcluster_route_is_409_saying_so(string method, string path, string? body)
    {
        // The server's configuration has no target at all: refused before Kafka or ClickHouse would be asked anything.
        using var response = await SendAsync(new HttpMethod(method), path, body);
        var problem = await ProblemAsync(response, 409);
        Assert.Contains("no route of this worker writes a two-subcluster target", problem.Detail, StringComparison.Ordinal);
        Assert.Contains("Ingest:Targets:<name>:Kind two-subcluster", problem.Detail, StringComparison.Ordinal);
        Assert.Empty(_server.Control.Calls);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(_server.Url, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminServer.Token);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        return await Http.SendAsync(request);
    }

    private static async Task<ControlProblem> ProblemAsync(HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize(body, ControlJsonContext.Default.ControlProblem)!;
        Assert.Equal(status, problem.Status);
        return problem;
    }
}

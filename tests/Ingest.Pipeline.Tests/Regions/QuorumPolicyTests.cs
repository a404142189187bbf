using System.Net;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Regions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Tests.Regions;

/// <summary>insert_quorum of a two-subcluster target: auto degrades on quorum errors and a replica gone, recovers only
/// after two healthy polls; strict and off never move.</summary>
public sealed class QuorumPolicyTests
{
    private static QuorumPolicy Policy(QuorumMode mode) =>
        new(new QuorumOptions { Mode = mode, Timeout = TimeSpan.FromSeconds(3) }, "db.events", NullLogger.Instance);

    private static ClickHouseServerException ServerError(int code) =>
        ClickHouseServerException.Parse(HttpStatusCode.InternalServerError, null, $"Code: {code}, e.displayText() = DB::Exception: quorum trouble");

    private static Dictionary<string, string> Applied(QuorumPolicy policy)
    {
        // Route settings already there stay as they are.
        var settings = new Dictionary<string, string> { ["max_insert_threads"] = "4" };
        policy.Apply(settings);
        Assert.Equal("4", settings["max_insert_threads"]);
        return settings;
    }

    private static void AssertQuorum(QuorumPolicy policy)
    {
        Assert.Equal(2, policy.Quorum);
        var settings = Applied(policy);
        Assert.Equal("2", settings["insert_quorum"]);
        Assert.Equal("3000", settings["insert_quorum_timeout"]);
    }

    private static void AssertNoQuorum(QuorumPolicy policy)
    {
        Assert.Equal(0, policy.Quorum);
        var settings = Applied(policy);
        Assert.Equal("0", settings["insert_quorum"]);
        Assert.False(settings.ContainsKey("insert_quorum_timeout"));
    }

    [Fact]
    public void Auto_starts_with_both_replicas_and_the_timeout_in_milliseconds()
    {
        var policy = Policy(QuorumMode.Auto);
        AssertQuorum(policy);
        Assert.False(policy.Degraded);
    }

    [Theory]
    [InlineData(285)]
    [InlineData(319)]
    public void Auto_degrades_to_0_on_a_quorum_error(int code)
    {
        var policy = Policy(QuorumMode.Auto);
        policy.Failed(ServerError(code));
        AssertNoQuorum(policy);
        Assert.True(policy.Degraded);
    }

    [Fact]
    public void Auto_keeps_the_quorum_through_other_failures()
    {
        var policy = Policy(QuorumMode.Auto);
        foreach (var e in new Exception[]
                 {
                     ServerError(242), ServerError(252), ServerError(999), ServerError(60),
                     // Concurrent quorum INSERTs into one table get 286 while both regions are fine.
                     ServerError(286),
                     ClickHouseServerException.Parse(HttpStatusCode.ServiceUnavailable, null, "no code here"),
                     new HttpRequestException("Connection refused (Code: 319)"),
                     new TimeoutException(),
                 })
            policy.Failed(e);
        AssertQuorum(policy);
        Assert.False(policy.Degraded);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(0, 2)]
    [InlineData(0, 0)]
    public void Auto_degrades_when_a_replica_is_not_active(int active, int total)
    {
        var policy = Policy(QuorumMode.Auto);
        policy.Observed(active, total);
        AssertNoQuorum(policy);
        Assert.True(policy.Degraded);
    }

    [Fact]
    public void Auto_goes_back_to_2_only_after_two_healthy_polls_in_a_row()
    {
        var policy = Policy(QuorumMode.Auto);
        policy.Observed(1, 2);
        policy.Observed(2, 2);
        AssertNoQuorum(policy);
        // A bad poll in between starts the count again.
        policy.Observed(1, 2);
        policy.Observed(2, 2);
        AssertNoQuorum(policy);
        policy.Observed(2, 2);
        AssertQuorum(policy);
        Assert.False(policy.Degraded);
    }

    [Fact]
    public void A_quorum_error_between_healthy_polls_starts_the_count_again()
    {
        var policy = Policy(QuorumMode.Auto);
        policy.Failed(ServerError(319));
        policy.Observed(2, 2);
        policy.Failed(ServerError(285));
        policy.Observed(2, 2);
        AssertNoQuorum(policy);
        policy.Observed(2, 2);
        AssertQuorum(policy);
    }

    [Fact]
    public void Healthy_polls_at_quorum_2_do_not_make_a_later_recovery_quicker()
    {
        var policy = Policy(QuorumMode.Auto);
        policy.Observed(2, 2);
        policy.Observed(2, 2);
        policy.Observed(1, 2);
        policy.Observed(2, 2);
        AssertNoQuorum(policy);
    }

    [Fact]
    public void Strict_stays_at_2_whatever_happens()
    {
        var policy = Policy(QuorumMode.Strict);
        AssertQuorum(policy);
        policy.Failed(ServerError(319));
        policy.Failed(ServerError(285));
        policy.Observed(0, 2);
        policy.Observed(1, 2);
        AssertQuorum(policy);
        Assert.False(policy.Degraded);
    }

    [Fact]
    public void Off_stays_at_0_whatever_happens()
    {
        var policy = Policy(QuorumMode.Off);
        AssertNoQuorum(policy);
        for (var i = 0; i < 3; i++) policy.Observed(2, 2);
        policy.Failed(ServerError(319));
        policy.Observed(2, 2);
        policy.Observed(2, 2);
        AssertNoQuorum(policy);
        // Off is chosen, not a degradation.
        Assert.False(policy.Degraded);
    }
}

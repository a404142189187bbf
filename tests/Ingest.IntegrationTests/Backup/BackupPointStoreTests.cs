using Ingest.Pipeline.Backup;

namespace Ingest.IntegrationTests.Backup;

/// <summary>The backup-point table on ClickHouse 18.16: a point's later state replaces its first, positions round-trip.</summary>
public sealed class BackupPointStoreTests(SingleStack fixture) : IClassFixture<SingleStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task A_point_is_recorded_started_then_finished_and_listed_with_its_positions()
    {
        var table = $"default.bp_{Guid.NewGuid():N}"[..28];
        var store = new BackupPointStore(_stack.Node("ch").Client, table);
        await store.EnsureAsync(engine: null, replicated: false, CancellationToken.None);
        await store.EnsureAsync(engine: null, replicated: false, CancellationToken.None); // idempotent

        var started = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        BackupPointPosition[] positions = [new("events", 0, "db.events", 120), new("events", 1, "db.events", 7), new("clicks", 0, "db.clicks", 5_000_000_000)];
        var point = new BackupPoint("nightly-1", "a", "ingest.a", "running", "freeze", started, null, 0, ["http://w1:8081", "http://w2:8081"], positions);
        await store.RecordAsync(point, CancellationToken.None);
        await store.RecordAsync(point with { Name = "other-group", ConsumerGroup = "ingest.b" }, CancellationToken.None);
        var finished = started.AddSeconds(3);
        await store.RecordAsync(point with { Status = "done", FinishedAt = finished, PauseMs = 812 }, CancellationToken.None);

        var listed = await store.ListAsync("a", "ingest.a", CancellationToken.None);
        var only = Assert.Single(listed);
        Assert.Equal(("nightly-1", "done", "freeze", 812L), (only.Name, only.Status, only.Backend, only.PauseMs));
        Assert.Equal(started, only.StartedAt);
        Assert.Equal(finished, only.FinishedAt);
        Assert.Equal(["http://w1:8081", "http://w2:8081"], only.Workers);
        Assert.Equal(positions, only.Positions);
        Assert.Null(await store.FindAsync("a", "ingest.a", "missing", CancellationToken.None));
        Assert.Equal("ingest.b", (await store.FindAsync("a", "ingest.b", "other-group", CancellationToken.None))!.ConsumerGroup);
    }
}

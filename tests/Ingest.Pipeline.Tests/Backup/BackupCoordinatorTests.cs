using Ingest.Pipeline.Backup;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>The coordinator's promises without servers: what is recorded, and that every paused worker is resumed
/// whatever fails (a worker, the backend, the caller).</summary>
public sealed class BackupCoordinatorTests
{
    [Fact]
    public async Task A_point_records_started_then_finished_with_every_workers_positions_and_resumes_them()
    {
        var (one, two) = (new Worker("w1", ("t", 0, 10), ("t", 2, 30)), new Worker("w2", ("t", 1, 20)));
        var steps = new RecordedSteps();
        var report = await Coordinator([one, two], new Backend(), steps).CreateAsync("p1", CancellationToken.None);

        Assert.Equal("finished", report.Status);
        Assert.Equal("took it", report.Detail);
        Assert.Equal([0, 1, 2], report.Positions.Select(p => p.Partition));
        Assert.Equal([10L, 20, 30], report.Positions.Select(p => p.Committed));
        Assert.Equal(["started", "finished"], steps.Recorded.Select(p => p.Status));
        // The backup holds the started row: its positions are the point's.
        Assert.Equal(3, steps.Recorded[0].Positions.Count);
        Assert.Equal(steps.Tables, steps.Synced);
        Assert.All(new[] { one, two }, w => Assert.Equal(["pause", "flush", "resume"], w.Calls));
    }

    [Fact]
    public async Task A_worker_that_cannot_pause_fails_the_point_and_the_others_are_resumed()
    {
        var (one, two) = (new Worker("w1", ("t", 0, 10)), new Worker("w2") { FailPause = true });
        var steps = new RecordedSteps();
        var backend = new Backend();
        var report = await Coordinator([one, two], backend, steps).CreateAsync("p1", CancellationToken.None);

        Assert.Equal("failed", report.Status);
        Assert.Contains("w2 cannot pause", report.Error);
        Assert.False(backend.Ran);
        Assert.Contains("resume", one.Calls);
        Assert.Equal("failed", Assert.Single(steps.Recorded).Status);
    }

    [Fact]
    public async Task A_partition_two_workers_report_fails_the_point_as_a_rebalance()
    {
        var report = await Coordinator([new Worker("w1", ("t", 0, 10)), new Worker("w2", ("t", 0, 12))], new Backend(), new RecordedSteps())
            .CreateAsync("p1", CancellationToken.None);
        Assert.Equal("failed", report.Status);
        Assert.Contains("t[0] was reported by w1 and w2", report.Error);
    }

    [Fact]
    public async Task A_partition_no_given_worker_reports_fails_the_point_naming_it()
    {
        var steps = new RecordedSteps { Kafka = [("t", 0), ("t", 1), ("t", 2)] };
        var worker = new Worker("w1", ("t", 0, 10), ("t", 2, 30));
        var report = await Coordinator([worker], new Backend(), steps).CreateAsync("p1", CancellationToken.None);
        Assert.Equal("failed", report.Status);
        Assert.Contains("t[1] were reported by none of the given workers", report.Error);
        Assert.Equal("resume", worker.Calls[^1]);
    }

    [Fact]
    public async Task A_worker_that_cannot_be_resumed_is_named_and_the_others_are_resumed()
    {
        var (one, two) = (new Worker("w1", ("t", 0, 10)) { FailResume = true }, new Worker("w2", ("t", 1, 5)));
        var report = await Coordinator([one, two], new Backend(), new RecordedSteps()).CreateAsync("p1", CancellationToken.None);
        Assert.Equal("finished", report.Status);
        Assert.Contains(report.StillPaused, s => s.StartsWith("w1:", StringComparison.Ordinal));
        Assert.Contains("resume", two.Calls);
    }

    [Fact]
    public async Task A_caller_that_goes_away_still_leaves_every_worker_resumed()
    {
        var worker = new Worker("w1", ("t", 0, 10));
        using var caller = new CancellationTokenSource();
        var backend = new Backend { OnRun = caller.Cancel, Hang = true };
        var report = await Coordinator([worker], backend, new RecordedSteps()).CreateAsync("p1", caller.Token);
        Assert.Equal("failed", report.Status);
        Assert.Equal("resume", worker.Calls[^1]);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("it's")]
    [InlineData(" ")]
    public async Task A_name_that_cannot_be_a_backup_name_is_refused_before_anything_pauses(string name)
    {
        var worker = new Worker("w1");
        var e = await Assert.ThrowsAsync<BackupPointRefusedException>(() => Coordinator([worker], new Backend(), new RecordedSteps()).CreateAsync(name, CancellationToken.None));
        Assert.Contains("invalid backup name", e.Message);
        Assert.Empty(worker.Calls);
    }

    private static BackupCoordinator Coordinator(IReadOnlyList<IBackupParticipant> workers, IBackupBackend backend, RecordedSteps steps) =>
        new(workers, backend, steps.Steps, NullLogger.Instance) { BackupTimeout = TimeSpan.FromSeconds(5) };

    private sealed class Worker(string name, params (string Topic, int Partition, long Committed)[] positions) : IBackupParticipant
    {
        public List<string> Calls { get; } = [];

        public bool FailPause { get; init; }

        public bool FailResume { get; init; }

        public string Name => name;

        public Task PauseAsync(CancellationToken ct)
        {
            Calls.Add("pause");
            return FailPause ? Task.FromException(new InvalidOperationException($"{name} cannot pause")) : Task.CompletedTask;
        }

        public Task<FlushResult> FlushAsync(TimeSpan timeout, CancellationToken ct)
        {
            Calls.Add("flush");
            return Task.FromResult(new FlushResult("a", "g.a", [.. positions.Select(p => new PartitionPosition(p.Topic, p.Partition, "db.t", p.Committed))]));
        }

        public Task ResumeAsync(CancellationToken ct)
        {
            Calls.Add("resume");
            return FailResume ? Task.FromException(new InvalidOperationException("gone")) : Task.CompletedTask;
        }
    }

    private sealed class Backend : IBackupBackend
    {
        public bool Ran { get; private set; }

        public bool Hang { get; init; }

        public Action? OnRun { get; init; }

        public string Name => "test";

        public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
        {
            Ran = true;
            OnRun?.Invoke();
            if (Hang) await Task.Delay(Timeout.Infinite, ct);
            return new BackupResult("took it");
        }

        public Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct) => throw new NotSupportedException();
    }

    private sealed class RecordedSteps
    {
        public List<BackupPoint> Recorded { get; } = [];

        public IReadOnlyList<string>? Synced { get; private set; }

        public IReadOnlyList<string> Tables { get; } = ["db.t", "db.ingest_checkpoints", "db.ingest_backup_points"];

        public IReadOnlyList<(string, int)>? Kafka { get; init; }

        public BackupCoordinator.Steps Steps => new(
            (_, _) => Task.FromResult<BackupPoint?>(null),
            (p, _) =>
            {
                Recorded.Add(p);
                return Task.CompletedTask;
            },
            (tables, _) =>
            {
                Synced = tables;
                return Task.CompletedTask;
            },
            Tables, "a", "g.a", Kafka is null ? null : _ => Task.FromResult(Kafka));
    }
}

using Ingest.IntegrationTests.EndToEnd;
using Ingest.LocalStack.ClickHouse;
using Ingest.Pipeline;
using Ingest.Pipeline.Backup;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Ingest.IntegrationTests.Backup;

/// <summary>Backup points and restore replay on real servers: region a (node a1, ReplicatedMergeTree) takes a backup
/// point by FREEZE under continuous load, its table is dropped, restored from the point and replayed; region b (node
/// b1), fed the same topic and never failed, is the control it must equal row for row.</summary>
public sealed class BackupPointRestoreTests(IndependentStack fixture, ITestOutputHelper output) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private ClickHouseServer A => _stack.Node("a1");
    private ClickHouseServer B => _stack.Node("b1");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_table_dropped_after_a_backup_point_is_restored_and_replayed_to_equal_the_never_failed_region(int workers)
    {
        await using var s = await ScenarioAsync(partitions: 4);
        var regionA = Enumerable.Range(0, workers).Select(_ => new InProcessPipeline(s.OptionsA)).ToList();
        try
        {
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 2_000, TimeSpan.FromSeconds(30));
            if (workers == 2)
                await Poll.UntilAsync(() => Task.FromResult(regionA.Select(p => p.Control.Status.Partitions.Count).ToList()), c => c.All(n => n > 0), TimeSpan.FromSeconds(30));

            using var region = RegionTables.From(s.OptionsA);
            var participants = regionA.Select((p, i) => (IBackupParticipant)new LocalParticipant($"a-{i}", p.Control)).ToList();
            var coordinator = new BackupCoordinator(participants, new FreezeOn(A), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance);
            var point = await coordinator.CreateAsync(s.Name, CancellationToken.None);
            output.WriteLine($"point {point.Name}: {point.Status}, paused {point.PauseMs} ms, {point.Detail}; {string.Join(' ', point.Positions.Select(p => $"{p.Partition}@{p.Committed}"))}");
            Assert.Equal("finished", point.Status);
            Assert.Empty(point.StillPaused);
            Assert.Equal(4, point.Positions.Count);
            Assert.Equal(workers, point.Workers.Count);
            var atPoint = point.Positions.Sum(p => p.Committed);
            Assert.True(atPoint > 2_000, $"{atPoint} rows at the point");
            // Resumed: nothing holds the partitions for the backup any more.
            Assert.All(regionA.SelectMany(p => p.Control.Status.Partitions), p => Assert.DoesNotContain("backup", p.PausedBy));
            var recorded = await new BackupPointStore(A.Client, "default.ingest_backup_points").FindAsync("a", s.OptionsA.Kafka.Group + ".a", s.Name, CancellationToken.None);
            Assert.Equal("finished", recorded?.Status);

            // More data after the point, then the disaster.
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > atPoint + 3_000, TimeSpan.FromSeconds(30));
            // Region a's workers are stopped first: a pipeline that fails on the dropped table does not leave the group
            // (its member stays until the session times out), and the restore refuses while the group has members.
            var total = await s.Load.StopAsync();
            foreach (var p in regionA) p.Dispose();
            regionA.Clear();
            await A.Client.ExecuteAsync($"DROP TABLE {s.TableA}");

            // Restore the table from the point's backup, then replay from the point.
            var restoring = System.Diagnostics.Stopwatch.StartNew();
            await new FreezeOn(A).RestoreAsync(new BackupRequest(s.Name, [s.TableA], new BackupPoint(s.Name, "a", "", "", "", default, null, 0, [], [])), CancellationToken.None);
            Assert.Equal(atPoint, await A.CountAsync($"SELECT count() FROM {s.TableA}"));
            var replay = new RestoreReplay(s.OptionsA, NullLogger.Instance);
            var plan = await replay.PlanAsync(s.Name, CancellationToken.None);
            Assert.Empty(plan.Problems);
            Assert.All(plan.Partitions, p => Assert.Equal(p.Point, p.Resume));
            var outcome = await replay.ApplyAsync(plan, TimeSpan.FromSeconds(60), CancellationToken.None);
            output.WriteLine($"reset by {outcome.Reset.MembershipCheck} in {outcome.Reset.Elapsed.TotalSeconds:0.00} s; {outcome.CheckpointsWritten} checkpoints");

            regionA.AddRange(Enumerable.Range(0, workers).Select(_ => new InProcessPipeline(s.OptionsA)));
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n >= total, TimeSpan.FromSeconds(90));
            output.WriteLine($"restore to caught up: {restoring.Elapsed.TotalSeconds:0.0} s ({total - atPoint} messages replayed)");
            await AssertEqualsControlAsync(s, total);
        }
        finally
        {
            foreach (var p in regionA) p.Dispose();
            s.Control.Dispose();
        }
    }

    [Fact]
    public async Task Restores_that_cannot_be_exact_are_refused_naming_why()
    {
        await using var s = await ScenarioAsync(partitions: 2);
        var regionA = new InProcessPipeline(s.OptionsA);
        try
        {
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 1_000, TimeSpan.FromSeconds(30));
            using var region = RegionTables.From(s.OptionsA);
            var point = await new BackupCoordinator([new LocalParticipant("a-0", regionA.Control)], new FreezeOn(A), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance)
                .CreateAsync(s.Name, CancellationToken.None);
            Assert.Equal("finished", point.Status);
            var replay = new RestoreReplay(s.OptionsA, NullLogger.Instance);

            // An unknown point: named, with the points there are.
            var unknown = await Assert.ThrowsAsync<RestoreRefusedException>(() => replay.PlanAsync("no-such-point", CancellationToken.None));
            output.WriteLine(unknown.Message);
            Assert.Contains("no backup point 'no-such-point'", unknown.Message);
            Assert.Contains(s.Name, unknown.Message);

            // The table was not restored: it holds data written after the point.
            var atPoint = point.Positions.Sum(p => p.Committed);
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > atPoint + 500, TimeSpan.FromSeconds(30));
            var ahead = await replay.PlanAsync(s.Name, CancellationToken.None);
            Assert.Equal(2, ahead.Problems.Count);
            Assert.All(ahead.Problems, p => Assert.Contains("past the backup point", p.Problem));
            await Assert.ThrowsAsync<RestoreRefusedException>(() => replay.ApplyAsync(ahead, TimeSpan.FromSeconds(30), CancellationToken.None));

            // A consistent plan, but the region's worker still runs: the group reset is refused and nothing changes.
            await regionA.Control.PauseAsync(PartitionSelector.All, PauseReasons.Operator, CancellationToken.None);
            await regionA.Control.FlushAsync(PartitionSelector.All, CancellationToken.None);
            var plan = await replay.PlanAsync(null, CancellationToken.None);
            Assert.Empty(plan.Problems);
            var active = await Assert.ThrowsAsync<RestoreRefusedException>(() => replay.ApplyAsync(plan, TimeSpan.FromSeconds(30), CancellationToken.None));
            output.WriteLine(active.Message);
            Assert.Contains("nothing changed", active.Message);
            Assert.Contains("member", active.Message);

            // Rows missing inside the run: the checkpoints and the data disagree.
            await A.Client.ExecuteAsync($"ALTER TABLE {s.TableA} DELETE WHERE _partition = 0 AND _offset = 10");
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA} WHERE _partition = 0 AND _offset = 10"), n => n == 0, TimeSpan.FromSeconds(30));
            var gap = await replay.PlanAsync(null, CancellationToken.None);
            var problem = Assert.Single(gap.Problems);
            output.WriteLine(problem.Problem);
            Assert.Equal(0, problem.Partition);
            Assert.Contains("1 offsets", problem.Problem);
            Assert.Contains("not an unbroken run", problem.Problem);
        }
        finally
        {
            await s.Load.StopAsync();
            regionA.Dispose();
            s.Control.Dispose();
        }
    }

    [Fact]
    public async Task A_backend_that_fails_or_hangs_resumes_ingest_and_nothing_is_lost()
    {
        await using var s = await ScenarioAsync(partitions: 3);
        var regionA = new InProcessPipeline(s.OptionsA);
        try
        {
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 1_000, TimeSpan.FromSeconds(30));
            using var region = RegionTables.From(s.OptionsA);
            var participants = new IBackupParticipant[] { new LocalParticipant("a-0", regionA.Control) };

            // FREEZE with a data path that is not the server's: the backend refuses, the point is recorded failed.
            var failing = await new BackupCoordinator(participants, new FreezeOn(A, dataPath: A.Directory), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance)
                .CreateAsync(s.Name, CancellationToken.None);
            output.WriteLine($"{failing.Status}: {failing.Error}");
            Assert.Equal("failed", failing.Status);
            Assert.Contains("does not hold the data of", failing.Error);
            Assert.Empty(failing.StillPaused);
            Assert.All(regionA.Control.Status.Partitions, p => Assert.DoesNotContain("backup", p.PausedBy));
            Assert.Equal("failed", (await new BackupPointStore(A.Client, "default.ingest_backup_points").FindAsync("a", s.OptionsA.Kafka.Group + ".a", s.Name, CancellationToken.None))?.Status);

            // A backend that never returns: aborted at the deadline, ingest resumed.
            var hanging = await new BackupCoordinator(participants, new Hangs(), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance) { BackupTimeout = TimeSpan.FromSeconds(2) }
                .CreateAsync(s.Name + "-2", CancellationToken.None);
            Assert.Equal("failed", hanging.Status);
            Assert.Contains("did not finish within 2s", hanging.Error);
            Assert.True(Hangs.Cancelled, "the backend was not told to abort");
            Assert.All(regionA.Control.Status.Partitions, p => Assert.Empty(p.PausedBy));

            // A name taken is refused before anything pauses.
            await Assert.ThrowsAsync<BackupPointRefusedException>(() =>
                new BackupCoordinator(participants, new Hangs(), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance).CreateAsync(s.Name, CancellationToken.None));

            var total = await s.Load.StopAsync();
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n >= total, TimeSpan.FromSeconds(60));
            Assert.Equal(total, await A.CountAsync($"SELECT count() FROM {s.TableA}"));
            Assert.Equal(total, await A.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {s.TableA}"));
        }
        finally
        {
            regionA.Dispose();
            s.Control.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_backup_taken_without_a_pause_under_load_is_reconciled_to_exactly_once(bool dataFirst)
    {
        await using var s = await ScenarioAsync(partitions: 4);
        var checkpoints = $"default.cp_{Guid.NewGuid():N}"[..24];
        s.OptionsA.Checkpoints.Table = checkpoints;
        var regionA = new InProcessPipeline(s.OptionsA);
        try
        {
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 2_000, TimeSpan.FromSeconds(30));
            // A nightly backup that knows nothing of Ingest: one table, then the other, while rows keep arriving.
            var freeze = new FreezeBackend();
            var dataPath = Path.Combine(A.Directory, "data");
            string[] order = dataFirst ? [s.TableA, checkpoints] : [checkpoints, s.TableA];
            await freeze.FreezeAsync(A.Client, dataPath, s.Name, [order[0]]);
            // Several INSERTs per partition between the two copies, so that they disagree (a fixed 700 ms saw none once
            // on a busy machine: both copies ended at the same offsets).
            var atFirst = await A.CountAsync($"SELECT count() FROM {s.TableA}");
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > atFirst + 1_000, TimeSpan.FromSeconds(30));
            await freeze.FreezeAsync(A.Client, dataPath, s.Name + "-2", [order[1]]);

            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 6_000, TimeSpan.FromSeconds(30));
            // Stopped before the drop, as above: a pipeline failing on the dropped tables would hold its group member.
            var total = await s.Load.StopAsync();
            regionA.Dispose();
            await A.Client.ExecuteAsync($"DROP TABLE {s.TableA}");
            await A.Client.ExecuteAsync($"DROP TABLE {checkpoints}");

            await Load.CreateNamedTableAsync(A, s.TableA);
            await A.Client.ExecuteAsync(Pipeline.Checkpoints.CheckpointStore.CreateStatement(checkpoints, null, replicated: true));
            await freeze.RestoreAsync(A.Client, dataPath, dataFirst ? s.Name : s.Name + "-2", s.TableA);
            await freeze.RestoreAsync(A.Client, dataPath, dataFirst ? s.Name + "-2" : s.Name, checkpoints);

            var replay = new RestoreReplay(s.OptionsA, NullLogger.Instance);
            var plan = await replay.PlanAsync(null, CancellationToken.None);
            foreach (var p in plan.Partitions) output.WriteLine($"{p.Name}: checkpoint {p.Checkpoint}, data {p.Data?.Next}, {p.Action}{(p.Problem is null ? "" : " PROBLEM " + p.Problem)}");
            Assert.Empty(plan.Problems);
            Assert.Equal(4, plan.Partitions.Count);
            // The tables were copied at different moments: the data, not the checkpoint, says where each partition ends.
            Assert.All(plan.Partitions, p => Assert.Equal(p.Data?.Next, p.Resume));
            Assert.Contains(plan.Partitions, p => p.Checkpoint != p.Resume);
            Assert.All(plan.Partitions, p => Assert.True(dataFirst ? p.Checkpoint >= p.Resume : p.Checkpoint <= p.Resume, $"{p.Name}: checkpoint {p.Checkpoint}, data {p.Resume}"));
            await replay.ApplyAsync(plan, TimeSpan.FromSeconds(60), CancellationToken.None);

            regionA = new InProcessPipeline(s.OptionsA);
            await AssertEqualsControlAsync(s, total);
        }
        finally
        {
            regionA.Dispose();
            s.Control.Dispose();
        }
    }

    [Fact]
    public async Task A_server_killed_mid_backup_fails_the_point_resumes_ingest_and_nothing_is_lost()
    {
        await using var s = await ScenarioAsync(partitions: 3);
        var regionA = new InProcessPipeline(s.OptionsA);
        try
        {
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n > 1_000, TimeSpan.FromSeconds(30));
            using var region = RegionTables.From(s.OptionsA);
            var report = await new BackupCoordinator([new LocalParticipant("a-0", regionA.Control)], new KillsServerThenFreezes(A), BackupCoordinator.Steps.On(region, s.OptionsA), NullLogger.Instance)
                .CreateAsync(s.Name, CancellationToken.None);
            output.WriteLine($"{report.Status}: {report.Error}");
            Assert.Equal("failed", report.Status);
            Assert.Empty(report.StillPaused);
            Assert.All(regionA.Control.Status.Partitions, p => Assert.DoesNotContain("backup", p.PausedBy));

            // The server comes back; the worker, which kept retrying, delivers everything once.
            await A.StartAsync();
            var total = await s.Load.StopAsync();
            await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n >= total, TimeSpan.FromSeconds(90));
            await Task.Delay(1_000);
            Assert.Equal(total, await A.CountAsync($"SELECT count() FROM {s.TableA}"));
            Assert.Equal(total, await A.CountAsync($"SELECT uniqExact(_partition, _offset) FROM {s.TableA}"));
        }
        finally
        {
            if (!A.IsRunning) await A.StartAsync();
            regionA.Dispose();
            s.Control.Dispose();
        }
    }

    private sealed record Scenario(string Topic, string Name, string TableA, string TableB, IngestOptions OptionsA, InProcessPipeline Control, SteadyProducer Load)
        : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Load.DisposeAsync();
    }

    /// <summary>A topic under steady load, region a's table and options, and region b's never-failed pipeline (the
    /// control) already running.</summary>
    private async Task<Scenario> ScenarioAsync(int partitions)
    {
        var topic = StackFixture.NewTopic("bp");
        _stack.Kafka!.CreateTopic(topic, partitions);
        var (tableA, tableB) = (await Load.CreateTableAsync(A, "bpa"), await Load.CreateTableAsync(B, "bpb"));
        var optionsA = Load.Options(_stack.KafkaBootstrap, A, topic, tableA);
        var optionsB = Load.Options(_stack.KafkaBootstrap, B, topic, tableB);
        optionsB.Region = "b";
        var control = new InProcessPipeline(optionsB);
        var load = new SteadyProducer(_stack.KafkaBootstrap, topic, perTick: 100, tickMs: 50);
        return new Scenario(topic, $"bp-{Guid.NewGuid():N}"[..16], tableA, tableB, optionsA, control, load);
    }

    /// <summary>Region a's table equals region b's: count, distinct (partition, offset), and a hash of every payload.</summary>
    private async Task AssertEqualsControlAsync(Scenario s, long total)
    {
        await Poll.UntilAsync(() => B.CountAsync($"SELECT count() FROM {s.TableB}"), n => n >= total, TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(() => A.CountAsync($"SELECT count() FROM {s.TableA}"), n => n >= total, TimeSpan.FromSeconds(90));
        await Task.Delay(1_000); // anything more (a duplicate) would land now
        const string digest = "SELECT count(), uniqExact(_partition, _offset), sum(cityHash64(_partition, _offset, seq, user_id, event, value)) FROM ";
        var a = await A.Client.QueryAsync(digest + s.TableA + " FORMAT TSV");
        var b = await B.Client.QueryAsync(digest + s.TableB + " FORMAT TSV");
        output.WriteLine($"produced {total}; region a: {a.Trim()}; region b: {b.Trim()}");
        Assert.Equal(b, a);
        Assert.StartsWith($"{total}\t{total}\t", a);
    }

    /// <summary>FREEZE on node a1 as a backup backend (its data directory is on this machine).</summary>
    private sealed class FreezeOn(ClickHouseServer node, string? dataPath = null) : IBackupBackend
    {
        private readonly FreezeBackend _freeze = new();
        private readonly string _dataPath = dataPath ?? Path.Combine(node.Directory, "data");

        public string Name => "freeze";

        public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
        {
            var frozen = await _freeze.FreezeAsync(node.Client, _dataPath, request.Name, request.Tables, ct);
            return new BackupResult($"froze {frozen.Count} tables ({frozen.Sum(f => f.Parts.Count)} parts)");
        }

        public async Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct)
        {
            foreach (var table in request.Tables)
            {
                await Load.CreateNamedTableAsync(node, table);
                await _freeze.RestoreAsync(node.Client, _dataPath, request.Name, table, ct);
            }
            return new BackupResult("restored");
        }
    }

    /// <summary>The server dies as the backup starts (kill -9), so the FREEZE that follows cannot reach it.</summary>
    private sealed class KillsServerThenFreezes(ClickHouseServer node) : IBackupBackend
    {
        public string Name => "freeze";

        public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
        {
            node.Kill();
            await new FreezeBackend().FreezeAsync(node.Client, Path.Combine(node.Directory, "data"), request.Name, request.Tables, ct);
            return new BackupResult("froze a dead server?");
        }

        public Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct) => throw new NotSupportedException();
    }

    private sealed class Hangs : IBackupBackend
    {
        public static volatile bool Cancelled;

        public string Name => "hangs";

        public async Task<BackupResult> BackupAsync(BackupRequest request, CancellationToken ct)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                Cancelled = true;
                throw;
            }
            return new BackupResult("never");
        }

        public Task<BackupResult> RestoreAsync(BackupRequest request, CancellationToken ct) => throw new NotSupportedException();
    }
}

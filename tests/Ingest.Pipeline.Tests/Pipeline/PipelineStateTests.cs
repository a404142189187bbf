using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Targets;
using static Ingest.Pipeline.Tests.Pipeline.PipelineHarness;

namespace Ingest.Pipeline.Tests.Pipeline;

/// <summary>The pipeline's state machine against fakes: assignment, revocation, loss, pause reasons, commands,
/// replays, route failure and disposal, each with effects a broken implementation would get wrong.</summary>
public sealed class PipelineStateTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void Assigned_partitions_are_inserted_once_then_committed_in_order_and_checkpointed()
    {
        using var h = new PipelineHarness();
        h.Kafka.ProduceSeq(Topic, 0, 0, 50);
        h.Kafka.ProduceSeq(Topic, 1, 50, 50);
        h.Start();
        h.Consumer.Assign(P(0), P(1));
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 50 && h.Consumer.Committed.GetValueOrDefault(P(1)) == 50, "both partitions committed");
        h.Stop();

        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), h.Target.Seqs.Order());
        // Every INSERT was announced first: a pending row per member, naming the whole group.
        foreach (var insert in h.Target.Inserts)
        {
            foreach (var (p, first, last) in insert.Members)
                Assert.Contains(h.Store.Rows, r => r.Partition == p && r.FirstOffset == first && r.LastOffset == last && r.State == CheckpointState.Pending);
        }
        Assert.Equal(49, h.Store.Newest(P(0))!.Value.LastOffset);
        Assert.Equal(CheckpointState.Committed, h.Store.Newest(P(1))!.Value.State);
        Assert.Equal(PipelineState.Stopped, h.Pipeline.Status.State);
    }

    [Fact]
    public void A_partition_resumes_after_its_committed_checkpoint_not_from_kafka()
    {
        using var h = new PipelineHarness();
        h.Kafka.ProduceSeq(Topic, 0, 0, 10);
        h.Store.Add(new CheckpointRow(P(0), 0, 5, CheckpointState.Committed, 6, 1, ""));
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 10, "offset 10 committed");
        h.Stop();
        Assert.Equal([6L, 7, 8, 9], h.Target.Seqs.Order());
    }

    [Fact]
    public void A_pending_group_is_replayed_whole_with_its_identity_before_consuming_on()
    {
        using var h = new PipelineHarness();
        h.Kafka.ProduceSeq(Topic, 0, 0, 10);
        h.Kafka.ProduceSeq(Topic, 1, 100, 10);
        // A crash left a group of two members pending; only partition 0 comes to this worker.
        const string members = "events:1:0-3,events:0:0-4";
        h.Store.Add(new CheckpointRow(P(0), 0, 4, CheckpointState.Pending, 5, 10, members));
        h.Store.Add(new CheckpointRow(P(1), 0, 3, CheckpointState.Pending, 4, 10, members));
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 10, "partition 0 committed to 10");
        h.Stop();

        var replay = h.Target.Inserts[0];
        Assert.Equal([(P(1), 0L, 3L), (P(0), 0L, 4L)], replay.Members);
        Assert.Equal([100L, 101, 102, 103, 0, 1, 2, 3, 4], replay.Seqs);
        Assert.Equal("1", replay.Settings!["insert_deduplicate"]);
        Assert.Equal(1, h.Metrics.Replays);
        // After the replay, consumption goes on after the pending range, not from its start.
        Assert.Equal([5L, 6, 7, 8, 9], h.Target.Inserts.Skip(1).SelectMany(i => i.Seqs).Order());
        // Only the owned member is marked committed; partition 1's owner writes its own.
        Assert.Equal(CheckpointState.Pending, h.Store.Newest(P(1))!.Value.State);
    }

    [Fact]
    public void A_revoked_partition_is_flushed_and_committed_before_it_is_released()
    {
        // Batches would wait a minute by age: only the revoke can send them.
        using var h = new PipelineHarness(o => o.Batching.MaxAge = TimeSpan.FromMinutes(1));
        h.Kafka.ProduceSeq(Topic, 0, 0, 20);
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Pipeline.Status.Partitions.FirstOrDefault()?.Position == 20, "20 messages taken");
        Assert.Empty(h.Target.Inserts);
        h.Consumer.Revoke(P(0));
        // The partition is released only after both: Kafka's commit, then the committed checkpoint row.
        Eventually(() => h.Pipeline.Status.State == PipelineState.Waiting, "no partition left");
        Assert.Equal(20, h.Consumer.Committed.GetValueOrDefault(P(0)));
        Assert.Equal(20, h.Target.Seqs.Count);
        Assert.Equal(CheckpointState.Committed, h.Store.Newest(P(0))!.Value.State);
        h.Stop();
    }

    [Fact]
    public void A_lost_partition_sends_nothing_more_and_commits_nothing_even_for_an_insert_in_flight()
    {
        using var gate = new SemaphoreSlim(0);
        using var h = new PipelineHarness();
        h.Target.Gate = gate;
        h.Kafka.ProduceSeq(Topic, 0, 0, 10);
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Pipeline.Status.Partitions.FirstOrDefault()?.InFlightBatches > 0, "an INSERT in flight");
        h.Kafka.ProduceSeq(Topic, 0, 10, 10);
        h.Consumer.Lose(P(0));
        Eventually(() => h.Pipeline.Status.Partitions.Count == 0, "partition released");
        gate.Release(100);
        Eventually(() => h.Target.Inserts.Count >= 1, "the in-flight INSERT ended");
        Thread.Sleep(100);
        h.Stop();
        Assert.False(h.Consumer.Committed.ContainsKey(P(0)), "nothing may be committed for a lost partition");
        Assert.Equal(1, h.Metrics.PartitionsLostTotal);
        Assert.DoesNotContain(h.Store.Rows, r => r.State == CheckpointState.Committed);
        Assert.All(h.Target.Seqs, s => Assert.True(s < 10, $"seq {s} was sent after the partition was lost"));
    }

    [Fact]
    public async Task Backpressure_lifts_only_its_own_reason_an_operator_pause_stays()
    {
        using var gate = new SemaphoreSlim(0);
        using var h = new PipelineHarness(o =>
        {
            o.Batching.MaxBytes = 200;
            o.Batching.MaxInFlightBytes = 400;
        });
        h.Target.Gate = gate;
        h.Kafka.ProduceSeq(Topic, 0, 0, 200);
        h.Kafka.ProduceSeq(Topic, 1, 1000, 200);
        h.Start();
        h.Consumer.Assign(P(0), P(1));
        Eventually(() => h.Pipeline.Status.Partitions.Count == 2, "assigned");
        await h.Pipeline.PauseAsync(new PartitionSelector(Topic, [0]), PauseReasons.Operator, CancellationToken.None).WaitAsync(Wait);
        Eventually(() => h.Pipeline.Status.Partitions.All(p => p.PausedBy.Contains("backpressure")), "backpressure on both");
        var p0 = h.Pipeline.Status.Partitions.Single(p => p.Partition == 0);
        Assert.Equal(["backpressure", "operator"], p0.PausedBy);
        Assert.Equal(1, h.Metrics.Pauses);

        gate.Release(10_000);
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(1)) == 200, "partition 1 drained after backpressure");
        Eventually(() => h.Pipeline.Status.Partitions.Single(p => p.Partition == 0).PausedBy.SequenceEqual(["operator"]), "backpressure lifted, operator pause kept");
        var status = h.Pipeline.Status.Partitions.Single(p => p.Partition == 0);
        var taken = status.Position;
        Thread.Sleep(100);
        Assert.Equal(taken, h.Pipeline.Status.Partitions.Single(p => p.Partition == 0).Position);
        Assert.True(taken < 200, "the operator-paused partition kept consuming");
        Assert.True(h.Consumer.IsPaused(P(0)));

        await h.Pipeline.ResumeAsync(new PartitionSelector(Topic, [0]), PauseReasons.Operator, CancellationToken.None).WaitAsync(Wait);
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 200, "partition 0 consumed after resume");
        h.Stop();
        Assert.Equal(400, h.Target.Seqs.Distinct().Count());
    }

    [Fact]
    public async Task A_pause_rule_holds_for_partitions_assigned_later_and_resume_lifts_only_its_reason()
    {
        using var h = new PipelineHarness();
        h.Kafka.ProduceSeq(Topic, 0, 0, 5);
        h.Kafka.ProduceSeq(Topic, 1, 100, 5);
        h.Start();
        var paused = await h.Pipeline.PauseAsync(PartitionSelector.All, PauseReasons.Backup, CancellationToken.None);
        Assert.Empty(paused.Partitions);
        Assert.Equal("backup", paused.Reason);
        h.Consumer.Assign(P(0), P(1));
        Eventually(() => h.Pipeline.Status.Partitions.Count == 2, "assigned");
        Assert.All(h.Pipeline.Status.Partitions, p => Assert.Equal(["backup"], p.PausedBy));
        Assert.Equal(new PauseRule(PartitionSelector.All, "backup"), Assert.Single(h.Pipeline.Status.PauseRules));
        Thread.Sleep(100);
        Assert.Empty(h.Target.Inserts);

        // Lifting another reason changes nothing.
        await h.Pipeline.ResumeAsync(PartitionSelector.All, PauseReasons.Operator, CancellationToken.None).WaitAsync(Wait);
        Thread.Sleep(50);
        Assert.Empty(h.Target.Inserts);

        var resumed = await h.Pipeline.ResumeAsync(PartitionSelector.All, PauseReasons.Backup, CancellationToken.None);
        Assert.Equal(2, resumed.Partitions.Count);
        Assert.Empty(h.Pipeline.Status.PauseRules);
        Eventually(() => h.Target.Seqs.Count == 10, "all rows after resume");
        h.Stop();
    }

    [Fact]
    public void Commands_refuse_bad_selectors_and_reasons_the_pipeline_owns()
    {
        using var h = new PipelineHarness();
        Assert.Throws<ArgumentException>(() => { _ = h.Pipeline.PauseAsync(new PartitionSelector(null, [1]), PauseReasons.Operator, CancellationToken.None); });
        Assert.Throws<ArgumentException>(() => { _ = h.Pipeline.PauseAsync(PartitionSelector.All, PauseReasons.Backpressure, CancellationToken.None); });
        Assert.Throws<ArgumentException>(() => { _ = h.Pipeline.ResumeAsync(PartitionSelector.All, PauseReasons.TargetReadOnly, CancellationToken.None); });
    }

    [Fact]
    public async Task Flush_answers_once_everything_consumed_before_it_is_in_the_table_and_checkpointed()
    {
        using var h = new PipelineHarness(o => o.Batching.MaxAge = TimeSpan.FromMinutes(1));
        h.Kafka.ProduceSeq(Topic, 0, 0, 30);
        h.Kafka.ProduceSeq(Topic, 1, 100, 7);
        h.Start();
        h.Consumer.Assign(P(0), P(1));
        Eventually(() => h.Pipeline.Status.Partitions.Sum(p => p.Position ?? 0) == 37, "37 messages taken");
        Assert.Empty(h.Target.Inserts);

        var result = await h.Pipeline.FlushAsync(PartitionSelector.All, CancellationToken.None).WaitAsync(Wait);

        Assert.Equal([("events", 0, 30L), ("events", 1, 7L)], result.Positions.Select(p => (p.Topic, p.Partition, p.Committed)));
        Assert.Equal(37, h.Target.Seqs.Count);
        Assert.Equal(CheckpointState.Committed, h.Store.Newest(P(0))!.Value.State);
        Assert.Equal(29, h.Store.Newest(P(0))!.Value.LastOffset);
        Assert.Equal(6, h.Store.Newest(P(1))!.Value.LastOffset);
        Assert.Equal("a", result.Region);
        h.Stop();
    }

    [Fact]
    public async Task A_table_that_refuses_rows_fails_its_route_and_an_operator_resume_sends_them_again()
    {
        using var h = new PipelineHarness();
        var refuse = true;
        h.Target.Refuse = _ => Volatile.Read(ref refuse) ? new TargetRefusedException("ClickHouse refused: table db.events does not exist (error 60)", new InvalidOperationException()) : null;
        h.Kafka.ProduceSeq(Topic, 0, 0, 20);
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Pipeline.Status.Routes.FirstOrDefault()?.Error is not null, "route failed");
        var status = h.Pipeline.Status;
        Assert.Contains("does not exist", status.Routes[0].Error, StringComparison.Ordinal);
        Assert.Equal(["target-failed"], status.Partitions[0].PausedBy);
        Assert.Equal(PipelineState.Running, status.State);
        Assert.False(h.Consumer.Committed.ContainsKey(P(0)));
        var flush = Assert.ThrowsAny<Exception>(() => h.Pipeline.FlushAsync(PartitionSelector.All, CancellationToken.None).Wait(Wait));
        Assert.Contains("failed", flush.GetBaseException().Message, StringComparison.Ordinal);

        Volatile.Write(ref refuse, false);
        await h.Pipeline.ResumeAsync(PartitionSelector.All, PauseReasons.TargetFailed, CancellationToken.None).WaitAsync(Wait);
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 20, "all committed after resume");
        h.Stop();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), h.Target.Seqs.Order());
        Assert.Null(h.Pipeline.Status.Routes[0].Error);
    }

    [Fact]
    public async Task Dispose_waits_for_an_insert_still_reading_its_buffers()
    {
        using var gate = new SemaphoreSlim(0);
        var h = new PipelineHarness(o => o.Batching.MaxRows = 5);
        try
        {
            // Partition 0's INSERT fails the pipeline; partition 1's is held and still to read its batch.
            h.Target.Refuse = batches => batches.Any(b => b.Partition.Partition.Value == 0) ? new InvalidOperationException("boom") : null;
            h.Target.Gate = gate;
            h.Target.HoldIf = batches => batches.Any(b => b.Partition.Partition.Value == 1);
            h.Kafka.ProduceSeq(Topic, 1, 100, 5);
            h.Start();
            h.Consumer.Assign(P(0), P(1));
            Eventually(() => h.Pipeline.Status.Partitions.Any(p => p.Partition == 1 && p.InFlightBatches == 1), "partition 1 in flight");
            h.Kafka.ProduceSeq(Topic, 0, 0, 5);
            Assert.True(h.Joined(Wait), "the pipeline should stop on the failed INSERT");
            Assert.Contains("boom", h.Error?.Message, StringComparison.Ordinal);
            Assert.Equal(PipelineState.Failed, h.Pipeline.Status.State);

            var disposing = Task.Run(h.Pipeline.Dispose);
            await Task.WhenAny(disposing, Task.Delay(300));
            Assert.False(disposing.IsCompleted, "Dispose returned while an INSERT still read its batch");
            gate.Release(10);
            await disposing.WaitAsync(Wait);
            // The held INSERT read its rows intact: its buffer had not gone back to the pool.
            Assert.Contains(h.Target.Inserts, i => i.Seqs.SequenceEqual([100L, 101, 102, 103, 104]));
        }
        finally
        {
            gate.Release(10);
            h.Dispose();
        }
    }

    [Fact]
    public void Commands_to_a_stopped_pipeline_fail_clearly()
    {
        using var h = new PipelineHarness();
        h.Start();
        Eventually(() => h.Pipeline.Status.State == PipelineState.Waiting, "in the group");
        h.Stop();
        var e = Assert.ThrowsAny<Exception>(() => h.Pipeline.FlushAsync(PartitionSelector.All, CancellationToken.None).Wait(Wait));
        Assert.IsType<PipelineNotRunningException>(e.GetBaseException());
    }

    [Fact]
    public void Two_routes_never_share_an_insert_and_one_failed_table_does_not_stop_the_other()
    {
        using var h = new PipelineHarness(secondRoute: true);
        h.ClicksTarget.Refuse = _ => new TargetRefusedException("table db.clicks was dropped (error 60)", new InvalidOperationException());
        h.Kafka.ProduceSeq(Topic, 0, 0, 30);
        h.Kafka.ProduceSeq(Clicks, 0, 500, 30);
        h.Start();
        h.Consumer.Assign(P(0), C(0));
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 30, "events committed");
        Eventually(() => h.Pipeline.Status.Routes.Any(r => r.Name == "clicks" && r.Error is not null), "clicks route failed");
        h.Kafka.ProduceSeq(Topic, 0, 30, 10);
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 40, "events go on after clicks failed");

        var status = h.Pipeline.Status;
        Assert.Null(status.Routes.Single(r => r.Name == "events").Error);
        Assert.Equal(["target-failed"], status.Partitions.Single(p => p.Topic == Clicks).PausedBy);
        Assert.Empty(status.Partitions.Single(p => p.Topic == Topic).PausedBy);
        Assert.False(h.Consumer.Committed.ContainsKey(C(0)));
        Assert.All(h.Target.Inserts, i => Assert.All(i.Members, m => Assert.Equal(Topic, m.Partition.Topic)));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (long)i), h.Target.Seqs.Order());
        // Checkpoints are per table.
        Assert.All(h.Store.Rows.Where(r => r.Partition.Topic == Clicks), r => Assert.Equal(CheckpointState.Pending, r.State));
        h.Stop();
    }

    [Fact]
    public void A_read_only_target_holds_its_partitions_until_it_is_writable()
    {
        using var h = new PipelineHarness();
        h.Kafka.ProduceSeq(Topic, 0, 0, 10);
        h.Start();
        h.Consumer.Assign(P(0));
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 10, "first rows committed");
        h.Target.ReadOnly = true;
        Eventually(() => h.Pipeline.Status.Partitions.Single().PausedBy.SequenceEqual(["target-read-only"]), "waiting for a writable target");
        h.Kafka.ProduceSeq(Topic, 0, 10, 10);
        Thread.Sleep(100);
        Assert.Equal(10, h.Pipeline.Status.Partitions.Single().Position);
        h.Target.ReadOnly = false;
        Eventually(() => h.Consumer.Committed.GetValueOrDefault(P(0)) == 20, "consuming again once writable");
        Assert.Empty(h.Pipeline.Status.Partitions.Single().PausedBy);
        h.Stop();
    }
}

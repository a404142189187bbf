using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Tests.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ingest.Pipeline.Tests.Checkpoints;

/// <summary>Checkpoint versions with the ownership epoch on top: a newer epoch's rows win over an older owner's late
/// ones, and the ledger stamps every row it writes with the partition's epoch.</summary>
public sealed class CheckpointVersionTests
{
    private const ulong MaxClock = (1UL << 52) - 1;
    private static readonly TopicPartition P = new("t", 0);
    private static readonly TopicPartition Q = new("t", 1);

    private static ulong NowMicros => (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(3u)]
    [InlineData(4095u)]
    public void The_epoch_round_trips_and_the_clock_keeps_its_bits(uint epoch)
    {
        foreach (var clock in new[] { 0UL, 1UL, NowMicros, MaxClock })
        {
            var version = CheckpointVersion.Of(epoch, clock);
            Assert.Equal(epoch, CheckpointVersion.EpochOf(version));
            Assert.Equal(clock, version - CheckpointVersion.Of(epoch, 0));
        }
    }

    [Fact]
    public void A_clock_past_52_bits_does_not_spill_into_the_epoch()
    {
        Assert.Equal(2u, CheckpointVersion.EpochOf(CheckpointVersion.Of(2, ulong.MaxValue)));
        Assert.Equal(CheckpointVersion.Of(2, MaxClock), CheckpointVersion.Of(2, ulong.MaxValue));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(7u)]
    [InlineData(4094u)]
    public void Any_version_of_the_next_epoch_beats_any_of_this_one_whatever_the_clocks(uint epoch)
    {
        var now = NowMicros;
        foreach (var late in new[] { 0UL, now, MaxClock })
        {
            foreach (var early in new[] { 0UL, 1UL, now })
                Assert.True(CheckpointVersion.Of(epoch + 1, early) > CheckpointVersion.Of(epoch, late), $"epoch {epoch + 1} at {early} vs epoch {epoch} at {late}");
        }
    }

    [Fact]
    public void After_entering_an_epoch_the_ledgers_rows_carry_it_and_grow()
    {
        var store = new FakeCheckpointStore();
        var ledger = NewLedger(store);
        var before = NowMicros;
        Assert.Equal(0u, ledger.EpochOf(P));
        ledger.EnterEpoch(P, 3);
        Assert.Equal(3u, ledger.EpochOf(P));
        // An older epoch entered later does not move the partition back.
        ledger.EnterEpoch(P, 2);
        Assert.Equal(3u, ledger.EpochOf(P));

        var first = Batch(P, 10, 19);
        var (pending, _) = ledger.BeginGroup([first]);
        ledger.Acknowledged(first);
        var second = Batch(P, 20, 29);
        var (more, _) = ledger.BeginGroup([second]);
        ledger.Acknowledged(second);
        ledger.WriteCommitted(wait: true, maxAgeMs: 0, CancellationToken.None);

        // Pending 10..19; pending 20..29 with committed 10..19; committed 20..29.
        List<CheckpointRow> rows = [.. pending, .. more, .. store.Rows];
        Assert.Equal(
            [(CheckpointState.Pending, 10L), (CheckpointState.Pending, 20L), (CheckpointState.Committed, 10L), (CheckpointState.Committed, 20L)],
            rows.Select(r => (r.State, r.FirstOffset)));
        Assert.All(rows, r => Assert.Equal(3u, CheckpointVersion.EpochOf(r.Version)));
        // Below the epoch, the clock: a worker whose versions are stale still writes newer ones than an earlier write.
        Assert.All(rows, r => Assert.True(r.Version - CheckpointVersion.Of(3, 0) >= before, $"version {r.Version} has a clock before {before}"));
        // In the order the ledger made them: pending 10..19, committed 10..19, pending 20..29, committed 20..29.
        var made = new[] { rows[0], rows[2], rows[1], rows[3] }.Select(r => r.Version).ToList();
        Assert.Equal(made.Order(), made);
        Assert.Equal(made.Count, made.Distinct().Count());
        Assert.Equal(3u, ledger.EpochOf(P));
        foreach (var b in new[] { first, second }) b.Rows.Dispose();
    }

    [Fact]
    public void A_release_writes_where_the_partition_stopped_in_the_handing_over_epoch_with_its_outstanding_rows()
    {
        var store = new FakeCheckpointStore();
        var ledger = NewLedger(store);
        ledger.EnterEpoch(P, 3);
        ledger.EnterEpoch(Q, 3);
        var (p, q) = (Batch(P, 90, 99), Batch(Q, 5, 9));
        ledger.BeginGroup([p, q]);
        ledger.Acknowledged(p);
        ledger.Acknowledged(q);

        ledger.WriteReleased(P, next: 100, epoch: 4, CancellationToken.None);

        // P's committed 90..99 (still epoch 3) and the release row 99..99 in epoch 4; Q's row waits for the next write.
        var rows = store.Rows;
        Assert.Equal(
            [(P, 90L, 99L, CheckpointState.Committed, 3u), (P, 99L, 99L, CheckpointState.Committed, 4u)],
            rows.Select(r => (r.Partition, r.FirstOffset, r.LastOffset, r.State, CheckpointVersion.EpochOf(r.Version))));
        Assert.True(rows[1].Version > rows[0].Version);
        Assert.Equal(4u, ledger.EpochOf(P));
        Assert.Equal(3u, ledger.EpochOf(Q));

        ledger.WriteCommitted(wait: true, maxAgeMs: 0, CancellationToken.None);
        var q1 = Assert.Single(store.Rows, r => r.Partition == Q);
        Assert.Equal((5L, 9L, 3u), (q1.FirstOffset, q1.LastOffset, CheckpointVersion.EpochOf(q1.Version)));
        Assert.Equal(2, store.Rows.Count(r => r.Partition == P));

        // The next owner resumes right after the release, in its epoch.
        var next = NewLedger(store);
        var resume = next.Resume([P], (_, _) => Assert.Fail("a committed release replays nothing"), CancellationToken.None);
        Assert.Equal(100, Assert.Single(resume).Offset.Value);
        Assert.Equal(4u, next.EpochOf(P));
        foreach (var b in new[] { p, q }) b.Rows.Dispose();
    }

    private static CheckpointLedger NewLedger(FakeCheckpointStore store) => new(store, new ReplayIdentity(false, "events.a", "db.events"), NullLogger.Instance);

    private static PartitionBatch Batch(TopicPartition partition, long first, long last)
    {
        var batch = new PartitionBatch(partition, new JsonRowsBuffer());
        for (var o = first; o <= last; o++) Assert.Null(batch.Add(o, """{"seq":1}"""u8));
        return batch;
    }
}

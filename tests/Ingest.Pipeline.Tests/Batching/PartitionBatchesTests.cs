using Confluent.Kafka;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Tests.Batching;

public sealed class PartitionBatchesTests
{
    private static readonly Func<TopicPartition, int> OneTable = _ => 0;

    /// <summary>Partitions 0.. with one sealed batch each, then <paramref name="filling"/> more partitions with an
    /// open batch only (still filling: a group could grow by them).</summary>
    private static PartitionBatches Sealed(int partitions, int messagesEach, int filling = 0)
    {
        var batches = new PartitionBatches(b => b.Rows.Dispose(), _ => { });
        var pool = new RowBufferPool(() => new JsonRowsBuffer(), null);
        for (var p = 0; p < partitions + filling; p++)
        {
            var batch = batches.Open(new TopicPartition("t", p), _ => pool);
            for (var i = 0; i < messagesEach; i++) Assert.Null(batch.Add(i, "{\"a\":1}"u8));
            if (p < partitions) batches.Seal(batch);
        }
        return batches;
    }

    [Fact]
    public void A_small_group_is_held_while_its_table_fills_and_its_batches_are_fresh()
    {
        var batches = Sealed(partitions: 3, messagesEach: 10, filling: 1);
        var empty = new List<PartitionBatch>();

        var group = batches.TakeGroup(OneTable, maxBytes: 1_000_000, maxBatches: 256, empty, _ => true, holdSealedAfter: Environment.TickCount64 - 60_000);

        Assert.Empty(group);
        Assert.Empty(empty);
        // Nothing was taken: the same batches go once the table no longer fills.
        group = batches.TakeGroup(OneTable, 1_000_000, 256, empty, _ => false, Environment.TickCount64 - 60_000);
        Assert.Equal(3, group.Count);
        Assert.All(group, b => Assert.Equal(BatchState.InFlight, b.State));
    }

    [Fact]
    public void A_held_group_goes_once_its_oldest_batch_waited_long_enough_or_it_is_full()
    {
        var batches = Sealed(partitions: 3, messagesEach: 10, filling: 1);
        var empty = new List<PartitionBatch>();

        // Sealed before the hold limit: sent although the table fills.
        var group = batches.TakeGroup(OneTable, 1_000_000, 256, empty, _ => true, holdSealedAfter: Environment.TickCount64 + 1);
        Assert.Equal(3, group.Count);

        // Full (maxBatches reached): sent although the table fills and the batches are fresh.
        batches = Sealed(partitions: 3, messagesEach: 10, filling: 1);
        group = batches.TakeGroup(OneTable, 1_000_000, maxBatches: 2, empty, _ => true, Environment.TickCount64 - 60_000);
        Assert.Equal(2, group.Count);
    }

    [Fact]
    public void A_held_table_leaves_its_batches_ready_and_the_next_table_goes()
    {
        // Partition 4, still filling, is table 0's.
        var batches = Sealed(partitions: 4, messagesEach: 10, filling: 1);
        var empty = new List<PartitionBatch>();
        Func<TopicPartition, int> twoTables = p => p.Partition.Value % 2;

        // Table 0 fills its INSERTs; table 1 does not.
        var group = batches.TakeGroup(twoTables, 1_000_000, 256, empty, t => t == 0, Environment.TickCount64 - 60_000);

        Assert.Equal([1, 3], group.Select(b => b.Partition.Partition.Value).Order());
        group = batches.TakeGroup(twoTables, 1_000_000, 256, empty, _ => false, Environment.TickCount64 - 60_000);
        Assert.Equal([0, 2], group.Select(b => b.Partition.Partition.Value).Order());
    }

    [Fact]
    public void A_small_group_goes_at_once_when_no_partition_of_its_table_could_add_to_it()
    {
        var empty = new List<PartitionBatch>();
        // Every partition's batch is in the group already (one partition alone behind is the common case).
        var batches = Sealed(partitions: 1, messagesEach: 10);
        Assert.Single(batches.TakeGroup(OneTable, 1_000_000, 256, empty, _ => true, Environment.TickCount64 - 60_000));

        // A partition filling its next batch behind one already in the group cannot add that batch to it (one batch
        // per partition), and neither can a partition of another table that is still filling.
        batches = Sealed(partitions: 2, messagesEach: 10, filling: 1);
        var pool = new RowBufferPool(() => new JsonRowsBuffer(), null);
        Assert.Null(batches.Open(new TopicPartition("t", 0), _ => pool).Add(10, "{\"a\":1}"u8));
        Func<TopicPartition, int> filling2IsOther = p => p.Partition.Value == 2 ? 1 : 0;
        var group = batches.TakeGroup(filling2IsOther, 1_000_000, 256, empty, _ => true, Environment.TickCount64 - 60_000);
        Assert.Equal([0, 1], group.Select(b => b.Partition.Partition.Value).Order());
    }
}

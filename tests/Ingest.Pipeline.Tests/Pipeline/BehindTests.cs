using static Ingest.Pipeline.Tests.Pipeline.PipelineHarness;

namespace Ingest.Pipeline.Tests.Pipeline;

/// <summary>A route far behind Kafka's end fills its INSERTs (see PartitionBatchesTests for the hold itself): it must
/// count as behind while its partitions wait under backpressure, and stop counting once it caught up.</summary>
public sealed class BehindTests
{
    [Fact]
    public void A_route_is_behind_while_its_backlog_waits_under_backpressure_and_not_once_it_caught_up()
    {
        using var h = new PipelineHarness(o =>
        {
            o.Batching.MaxRows = 1000;
            o.Batching.MaxBytes = 64 * 1024;
            o.Batching.MaxInFlightBytes = 64 * 1024;
        });
        // 160,000 messages: more than the 100,000 from which a route counts as behind.
        for (var p = 0; p < 4; p++) h.Kafka.ProduceSeq(Topic, p, p * 40_000, 40_000);
        h.Target.Gate = new SemaphoreSlim(0);
        h.Start();
        h.Consumer.Assign(P(0), P(1), P(2), P(3));

        // INSERTs are held: ~64 KiB are taken, then every partition waits for backpressure, with the rest in Kafka.
        Eventually(() => h.Route.Behind, "the route marked behind");
        Assert.True(h.Consumer.IsPaused(P(0)));
        Assert.Empty(h.Target.Inserts);

        h.Target.Gate.Release(1_000_000);
        Eventually(() => Enumerable.Range(0, 4).All(p => h.Consumer.Committed.GetValueOrDefault(P(p)) == 40_000), "every partition committed", 60_000);
        Eventually(() => !h.Route.Behind, "the route no longer behind");
        h.Stop();
        Assert.Equal(Enumerable.Range(0, 160_000).Select(i => (long)i), h.Target.Seqs.Order());
    }
}

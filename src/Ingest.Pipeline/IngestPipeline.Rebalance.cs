using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Delivery;
using Ingest.Pipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>What the pipeline does when the group moves partitions (inside Consume, on the pipeline thread).</summary>
public sealed partial class IngestPipeline
{
    private sealed class Rebalance(IngestPipeline pipeline) : IRebalanceListener
    {
        public IReadOnlyList<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartition> partitions) => pipeline.OnAssigned(partitions);

        public void OnRevoked(IReadOnlyList<TopicPartition> partitions) => pipeline.OnRevoked(partitions);

        public void OnLost(IReadOnlyList<TopicPartition> partitions) => pipeline.OnLost(partitions);
    }

    /// <summary>Each partition resumes from its table's checkpoints (replaying a pending group first), or from Kafka's
    /// committed offset when checkpoints are off.</summary>
    private IReadOnlyList<TopicPartitionOffset> OnAssigned(IReadOnlyList<TopicPartition> partitions)
    {
        var starts = new List<TopicPartitionOffset>(partitions.Count);
        foreach (var byRoute in partitions.GroupBy(p => RouteOf(p.Topic)))
        {
            var route = byRoute.Key;
            List<TopicPartition> parts = [.. byRoute];
            if (route.Error is not null)
            {
                starts.AddRange(ResumeFailedRoute(route, parts));
                continue;
            }
            var ownership = OwnershipOnAssign(route);
            starts.AddRange(route.Checkpoints?.Resume(parts, (members, owned) =>
                {
                    if (MayReplay(route, ownership, owned)) ReplayGroup(route, members, owned);
                    else _logger.LogWarning("Not replaying pending group {Members}: another region took {Owned} over since", members, string.Join(", ", owned));
                }, _stopping)
                ?? parts.Select(p => new TopicPartitionOffset(p, Offset.Unset)));
        }
        if (starts.Count > 0) _logger.LogInformation("Assigned {Partitions}", string.Join(", ", partitions));
        _source!.Assign(starts);
        foreach (var p in partitions)
        {
            var route = RouteOf(p.Topic);
            if (route.Error is not null) _source.Add(PartitionSelector.Of(p), PauseReasons.TargetFailed, rule: false);
            if (route.WaitsForWritable) _source.Add(PartitionSelector.Of(p), PauseReasons.TargetReadOnly, rule: false);
        }
        foreach (var byRoute in partitions.GroupBy(p => RouteOf(p.Topic)))
        {
            if (byRoute.Key.Ownership is { Latest: { } snapshot }) AfterAssigned(byRoute.Key, snapshot, byRoute);
        }
        Publish();
        return starts;
    }

    /// <summary>A failed route's table refuses rows (dropped, incompatible), so a pending group cannot be replayed into it
    /// now, and what its INSERT sent was refused, not stored. Its partitions wait (target-failed) at the pending range's
    /// first offset instead, and are consumed again from there once an operator resumes the route.</summary>
    private List<TopicPartitionOffset> ResumeFailedRoute(Route route, List<TopicPartition> parts)
    {
        if (route.Checkpoints is null) return [.. parts.Select(p => new TopicPartitionOffset(p, Offset.Unset))];
        var pendingFrom = new Dictionary<TopicPartition, long>();
        var starts = route.Checkpoints.Resume(parts, (members, owned) =>
        {
            foreach (var (partition, first, _) in ReplayIdentity.ParseMembers(members))
            {
                if (owned.Contains(partition)) pendingFrom[partition] = first;
            }
        }, _stopping);
        return [.. starts.Select(s => pendingFrom.TryGetValue(s.TopicPartition, out var first) ? new TopicPartitionOffset(s.TopicPartition, new Offset(first)) : s)];
    }

    private void ReplayGroup(Route route, string members, List<TopicPartition> owned)
    {
        _metrics.Replayed(route.Target.Table);
        _rangeReader ??= _newRangeReader(_routes);
        route.Checkpoints!.Replay(members, owned, p => new PartitionBatch(p, route.Pool.Rent()), b => route.Pool.Return(b.Rows), _rangeReader, route.Target, _stopping);
    }

    /// <summary>A clean hand-over: their batches are flushed and checkpointed first, so the next owner starts exactly
    /// after them. A failed route's partitions hold nothing (their batches were dropped) and resume from their last
    /// committed offset wherever they go.</summary>
    private void OnRevoked(IReadOnlyList<TopicPartition> partitions)
    {
        _logger.LogInformation("Revoking {Partitions}: flushing their batches first", string.Join(", ", partitions));
        var set = partitions.ToHashSet();
        foreach (var p in partitions.Where(p => RouteOf(p.Topic).Error is not null)) _batches.Drop(p, release: true);
        if (_state != PipelineState.Failed) FlushAndWait(set.Contains);
        _source!.Release(partitions);
        foreach (var p in partitions) RouteOf(p.Topic).Ownership?.Forget(p);
        Publish();
    }

    /// <summary>The group took these partitions away without a clean revoke (this worker missed its session: a long
    /// pause, a network split), so another worker may own them already. Nothing more is sent for them: open and
    /// queued batches are dropped, and the next owner resumes from the checkpoints. An INSERT already under way cannot
    /// be recalled; it completes, but its offsets are not committed to Kafka (docs/exactly-once.md, "Limits").</summary>
    private void OnLost(IReadOnlyList<TopicPartition> partitions)
    {
        _metrics.PartitionsLost(partitions.Count);
        _logger.LogWarning("Lost {Partitions} (session expired?): dropping their unsent batches; their next owner resumes from the checkpoints",
            string.Join(", ", partitions));
        var set = partitions.ToHashSet();
        foreach (var route in _routes) route.Checkpoints?.Forget(set);
        foreach (var p in partitions) _batches.Drop(p, release: true);
        _source!.Release(partitions);
        foreach (var p in partitions) RouteOf(p.Topic).Ownership?.Forget(p);
        Publish();
    }
}

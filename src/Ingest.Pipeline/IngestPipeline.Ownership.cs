using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Delivery;
using Ingest.Pipeline.Regions;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline;

/// <summary>Two-subcluster routes: every partition is assigned in both regions' groups, but only its owner (the claim
/// with the highest epoch, docs/regions.md) writes it; the other region follows, paused (not-owned). Runs on the
/// pipeline thread on each view the route's <see cref="OwnershipFollower"/> has read.</summary>
public sealed partial class IngestPipeline
{
    private void FollowOwnership()
    {
        foreach (var route in _routes)
        {
            if (route.Ownership is not { } ownership) continue;
            if (ownership.Poll(_stopping) is { } snapshot) ApplyOwnership(route, snapshot);
            if (ownership.Releasing > 0) CompleteReleases(route);
        }
    }

    /// <summary>Brings each of the route's assigned partitions in line with the view: writing what this region owns
    /// (from where its epoch starts), following what it does not, fencing or releasing what it lost.</summary>
    private void ApplyOwnership(Route route, OwnershipSnapshot snapshot)
    {
        var changed = false;
        foreach (var p in _source!.Assigned)
        {
            if (!route.Takes(p.Topic)) continue;
            var claim = snapshot.View.Current(p);
            changed |= claim.Owner == _options.Region ? BecomeOwner(route, p, claim, snapshot) : LetGo(route, p, claim);
        }
        if (changed) Publish();
    }

    private bool BecomeOwner(Route route, TopicPartition p, OwnershipClaim claim, OwnershipSnapshot snapshot)
    {
        var ownership = route.Ownership!;
        var ledger = route.Checkpoints!;
        var held = ownership.Held.TryGetValue(p, out var h) ? h : ((Holding, uint)?)null;
        if (held is (Holding.Writing, var epoch))
        {
            if (epoch == claim.Epoch) return false;
            // Claimed again by this region (a takeover while it still wrote): the range goes on.
            ledger.EnterEpoch(p, claim.Epoch);
            ownership.Hold(p, Holding.Writing, claim.Epoch);
            return true;
        }
        long? start;
        if (!ownership.Complete) start = null;
        else if (ledger.EpochOf(p) >= claim.Epoch) start = -1; // this region already wrote in this epoch: its checkpoint says where
        else if (claim.HasStart) start = claim.StartOffset;
        else if (claim.Epoch == 0 || claim.PreviousOwner.Length == 0 || claim.PreviousOwner == _options.Region) start = -1;
        else start = Released(snapshot, p, claim.Epoch);
        if (start is not { } s)
        {
            if (held is (Holding.Waiting, _)) return false;
            ownership.Hold(p, Holding.Waiting, claim.Epoch);
            _source!.Add(PartitionSelector.Of(p), PauseReasons.NotOwned, rule: false);
            _logger.LogInformation("{Partition} is this region's at epoch {Epoch}; waiting for {What}", p, claim.Epoch,
                ownership.Complete ? $"region {claim.PreviousOwner} to release it" : "a first view of ownership from both subclusters");
            return true;
        }
        if (s >= 0) _source!.Reset(p, s);
        ledger.EnterEpoch(p, claim.Epoch);
        ownership.Hold(p, Holding.Writing, claim.Epoch);
        _source!.Remove(PartitionSelector.Of(p), PauseReasons.NotOwned);
        if (held is not null || claim.Epoch > 0)
            _logger.LogInformation("Writing {Partition} into this region's subcluster from {Offset} (epoch {Epoch}, {Reason})", p,
                _source.Position(p)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "its checkpoint", claim.Epoch, claim.Reason);
        return true;
    }

    /// <summary>Where the previous owner stopped, from its release row (a committed checkpoint of the hand-over's epoch,
    /// read on this region's replica of its subcluster); null until it is there.</summary>
    private static long? Released(OwnershipSnapshot snapshot, TopicPartition p, uint epoch)
    {
        if (!snapshot.OtherCheckpoints.TryGetValue(p, out var released)) return null;
        if (CheckpointVersion.EpochOf(released.Version) < epoch || released.State != CheckpointState.Committed) return null;
        // −2: it released a partition it never had a position for; this region's own checkpoint says where.
        return released.LastOffset < -1 ? -1 : released.LastOffset + 1;
    }

    private bool LetGo(Route route, TopicPartition p, OwnershipClaim claim)
    {
        var ownership = route.Ownership!;
        var held = ownership.Held.TryGetValue(p, out var h) ? h : ((Holding, uint)?)null;
        switch (held)
        {
            case (Holding.Writing or Holding.Releasing, _) when claim.HasStart:
                Fence(route, p, claim);
                return true;
            case (Holding.Writing, _):
                Release(route, p, claim);
                return true;
            case (Holding.Releasing, _):
                return false;
            case null when !claim.HasStart && claim.PreviousOwner == _options.Region && route.Checkpoints!.EpochOf(p) < claim.Epoch:
                // Handed over while another worker of this region held it; it comes here, idle: the release row is still owed.
                Release(route, p, claim);
                return true;
            default:
                if (held is (Holding.Following, var e) && e == claim.Epoch) return false;
                ownership.Hold(p, Holding.Following, claim.Epoch);
                _source!.Add(PartitionSelector.Of(p), PauseReasons.NotOwned, rule: false);
                return true;
        }
    }

    /// <summary>Another region took the partition over (it chose where to start): nothing more is sent for it from here.
    /// Open and queued batches are dropped; an INSERT already sent cannot be recalled (docs/regions.md, fencing).</summary>
    private void Fence(Route route, TopicPartition p, OwnershipClaim claim)
    {
        _batches.Drop(p, release: false);
        _source!.Add(PartitionSelector.Of(p), PauseReasons.NotOwned, rule: false);
        route.Ownership!.Hold(p, Holding.Following, claim.Epoch);
        _metrics.Fenced(route.Target.Table);
        _logger.LogWarning("Fenced {Partition}: region {Owner} took it over at epoch {Epoch} from offset {Start}; this worker stopped writing it", p, claim.Owner,
            claim.Epoch, claim.StartOffset);
    }

    /// <summary>Handed over (failback): the partition stops consuming, its batches go out, then the release row tells
    /// the new owner where to start (<see cref="CompleteReleases"/>).</summary>
    private void Release(Route route, TopicPartition p, OwnershipClaim claim)
    {
        _source!.Add(PartitionSelector.Of(p), PauseReasons.NotOwned, rule: false);
        _batches.SealWhere(b => b.Partition == p);
        route.Ownership!.Hold(p, Holding.Releasing, claim.Epoch);
        _logger.LogInformation("Releasing {Partition} to region {Owner} (epoch {Epoch}) once its batches are in", p, claim.Owner, claim.Epoch);
    }

    private void CompleteReleases(Route route)
    {
        var ownership = route.Ownership!;
        List<(TopicPartition, uint)>? done = null;
        foreach (var (p, (mode, epoch)) in ownership.Held)
        {
            if (mode != Holding.Releasing) continue;
            if (!_source!.IsAssigned(p) || !_batches.IsIdle(x => x == p)) continue;
            (done ??= []).Add((p, epoch));
        }
        foreach (var (p, epoch) in done ?? [])
        {
            var next = _source!.Committed(p) ?? -1;
            route.Checkpoints!.WriteReleased(p, next, epoch, _stopping);
            if (next >= 0) ownership.Released(p, epoch, ownership.Latest?.View.Current(p).Owner ?? ownership.Target.OtherRegion, next);
            ownership.Hold(p, Holding.Following, epoch);
            _logger.LogInformation("Released {Partition} at offset {Next} (epoch {Epoch})", p, next, epoch);
            Publish();
        }
    }

    /// <summary>On assignment: a view of ownership is read first (the replays depend on it), and the new partitions
    /// start paused (not-owned) until the view says this region writes them.</summary>
    private OwnershipSnapshot? OwnershipOnAssign(Route route)
    {
        if (route.Ownership is not { } ownership) return null;
        return ownership.Latest is { } latest && ownership.IsFresh(Environment.TickCount64) ? latest : ownership.RefreshNow(_stopping);
    }

    /// <summary>A pending group is this region's to replay unless another region took over one of its partitions
    /// since (the claimant settled that range's end itself; replaying would write rows it owns).</summary>
    private static bool MayReplay(Route route, OwnershipSnapshot? snapshot, List<TopicPartition> owned) =>
        snapshot is null || !owned.Any(p => snapshot.View.TakenOverSince(p, route.Checkpoints!.EpochOf(p)));

    private void AfterAssigned(Route route, OwnershipSnapshot snapshot, IEnumerable<TopicPartition> partitions)
    {
        foreach (var p in partitions) _source!.Add(PartitionSelector.Of(p), PauseReasons.NotOwned, rule: false);
        ApplyOwnership(route, snapshot);
    }

    /// <summary>Groups of a two-subcluster route go out only while its view of ownership is fresh.</summary>
    private static bool MaySend(Route route) => route.Ownership is not { } o || o.IsFresh(Environment.TickCount64);

    private (string? Owner, uint? Epoch, string? Holding, long? OwnerNext, long? CrossRegionLag) OwnershipStatusOf(Route route, TopicPartition p, long? high)
    {
        if (route.Ownership is not { Latest: { } snapshot } ownership) return default;
        var claim = snapshot.View.Current(p);
        var holding = ownership.Held.TryGetValue(p, out var h) ? h.Mode.ToString().ToLowerInvariant() : null;
        if (claim.Owner == _options.Region) return (claim.Owner, claim.Epoch, holding, null, null);
        long? ownerNext = snapshot.OtherCheckpoints.TryGetValue(p, out var cp) ? cp.ResumeOffset : null;
        return (claim.Owner, claim.Epoch, holding, ownerNext, high is { } hw && ownerNext is { } n ? Math.Max(0, hw - n) : null);
    }
}

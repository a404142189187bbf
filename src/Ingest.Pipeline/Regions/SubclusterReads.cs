using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Regions;

/// <summary>The other region's part of the ownership view as one replica of its subcluster shows it: its copy of the
/// history and the other region's newest checkpoints.</summary>
internal sealed record OtherSide(ClickHouseHttpClient Client, List<OwnershipClaim> Claims, IReadOnlyDictionary<TopicPartition, Checkpoint> Checkpoints);

/// <summary>The reads of a two-subcluster target's ownership that the follower (every FollowInterval) and the
/// takeover and failback commands share.</summary>
internal static class SubclusterReads
{
    /// <summary>This region's copy of the history, from the first replica of its subcluster that answers.</summary>
    public static async Task<(ClickHouseHttpClient Client, List<OwnershipClaim> Claims)> HomeAsync(SubclusterTarget t, CancellationToken ct)
    {
        Exception? error = null;
        foreach (var client in t.Home)
        {
            try
            {
                return (client, await OwnershipTable.ReadAsync(client, t.OwnershipTable, t.BaseGroup, t.Table, ct).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                error = e;
            }
        }
        throw new OwnershipRefusedException($"no replica of this region's subcluster answers ({string.Join(", ", t.HomeEndpoints)}): {error?.Message}");
    }

    /// <summary>The other subcluster's claims and the other region's checkpoints as <paramref name="client"/>, one of its
    /// replicas, shows them.</summary>
    public static async Task<OtherSide> ReadOtherAsync(ClickHouseHttpClient client, SubclusterTarget t, CancellationToken ct)
    {
        var claims = await OwnershipTable.ReadAsync(client, t.OwnershipTable, t.BaseGroup, t.Table, ct).ConfigureAwait(false);
        var checkpoints = await CheckpointStore.ReadGroupAsync(sql => client.QueryAsync(sql, null, ct), t.CheckpointTable, t.GroupOf(t.OtherRegion), t.Table)
            .ConfigureAwait(false);
        return new OtherSide(client, claims, checkpoints);
    }

    /// <summary>For the takeover and failback commands, which want the best answer there is: the other side from the
    /// first replica of the other subcluster that answers within <paramref name="perReplica"/> and is not catching up
    /// (one still working through its replication queue, back after a loss, may not show the newest claims and
    /// checkpoints yet); when every replica that answers is catching up, the first of them (a lost region's subcluster
    /// may have no other); null when none answers. A hung replica (its server frozen) costs
    /// <paramref name="perReplica"/>, not the command's whole deadline. The follower decides differently
    /// (OwnershipFollower.RefreshAsync: no catching-up replica but the last, since its view must not miss a takeover).</summary>
    public static async Task<OtherSide?> OtherAsync(SubclusterTarget t, TimeSpan perReplica, CancellationToken ct)
    {
        OtherSide? catchingUp = null;
        foreach (var client in t.Other)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(perReplica);
            try
            {
                var behind = (await ReplicaStatus.ReadAsync(client, t.OwnershipTable, replicaCounts: false, deadline.Token).ConfigureAwait(false)).CatchingUp;
                if (behind && catchingUp is not null) continue;
                var side = await ReadOtherAsync(client, t, deadline.Token).ConfigureAwait(false);
                if (!behind) return side;
                catchingUp = side;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Unreachable or too slow: the next replica.
            }
        }
        return catchingUp;
    }
}

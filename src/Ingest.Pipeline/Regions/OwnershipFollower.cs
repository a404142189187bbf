using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse.Http;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Regions;

/// <summary>What one refresh read: the ownership history from both subclusters, and the other region's newest
/// checkpoints as this region's replica of its subcluster shows them. <see cref="OtherRead"/> false: the other
/// subcluster did not answer, its part of the view is the last one read.</summary>
internal sealed record OwnershipSnapshot(OwnershipView View, bool OtherRead, IReadOnlyDictionary<TopicPartition, Checkpoint> OtherCheckpoints, long ReadAtTicks);

/// <summary>How this worker holds one of a two-subcluster route's assigned partitions.</summary>
internal enum Holding
{
    /// <summary>Owned here: consumed and written into the home subcluster.</summary>
    Writing,

    /// <summary>Another region owns it: paused (not-owned); its position is the owner's checkpoint.</summary>
    Following,

    /// <summary>Handed over: paused, its last batches still going out; then the release row is written.</summary>
    Releasing,

    /// <summary>Owned here by a hand-over, waiting for the previous owner's release row (or for a first complete
    /// view of ownership after start).</summary>
    Waiting,
}

/// <summary>A two-subcluster route's view of ownership, refreshed every FollowInterval off the pipeline thread (one
/// refresh at a time, tracked) and taken by the pipeline thread, which alone changes <see cref="Held"/>.</summary>
internal sealed class OwnershipFollower : IDisposable
{
    private readonly ILogger _logger;
    private readonly long _intervalMs;
    private readonly Dictionary<TopicPartition, (Holding Mode, uint Epoch)> _held = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<OwnershipClaim> _releases = new();
    private List<OwnershipClaim> _otherClaims = [];
    private IReadOnlyDictionary<TopicPartition, Checkpoint> _otherCheckpoints = new Dictionary<TopicPartition, Checkpoint>();
    private Task<OwnershipSnapshot>? _refresh;
    private long _due;
    private long _lastWarning;

    public OwnershipFollower(SubclusterTarget target, QuorumPolicy quorum, ILogger logger)
    {
        Target = target;
        Quorum = quorum;
        _logger = logger;
        _intervalMs = (long)target.Options.Ownership.FollowInterval.TotalMilliseconds;
        // A group is sent only while the view is this fresh: a worker frozen (GC, VM pause) past a takeover finds out
        // before it writes again.
        MaxViewAgeMs = 2 * _intervalMs + 1000;
    }

    public SubclusterTarget Target { get; }

    public QuorumPolicy Quorum { get; }

    public long MaxViewAgeMs { get; }

    /// <summary>The newest view taken by the pipeline thread; null until the first refresh.</summary>
    public OwnershipSnapshot? Latest { get; private set; }

    /// <summary>Both subclusters have answered at least once since start: until then nothing is written (a region
    /// coming back must see the other region's takeover before it writes its old partitions).</summary>
    public bool Complete { get; private set; }

    /// <summary>A refresh under way (awaited on shutdown).</summary>
    public Task? Outstanding => _refresh;

    public IReadOnlyDictionary<TopicPartition, (Holding Mode, uint Epoch)> Held => _held;

    /// <summary>Partitions held <see cref="Holding.Releasing"/>: the pipeline looks for finished releases only while
    /// there are some (it asks on every turn).</summary>
    public int Releasing { get; private set; }

    public void Hold(TopicPartition p, Holding mode, uint epoch)
    {
        Forget(p);
        _held[p] = (mode, epoch);
        if (mode == Holding.Releasing) Releasing++;
    }

    public void Forget(TopicPartition p)
    {
        if (_held.Remove(p, out var was) && was.Mode == Holding.Releasing) Releasing--;
    }

    /// <summary>Notes where a hand-over of <paramref name="epoch"/> starts; written into the ownership table by the
    /// next refresh (retried until it lands), off the pipeline thread.</summary>
    public void Released(TopicPartition p, uint epoch, string newOwner, long next) =>
        _releases.Enqueue(new OwnershipClaim(p.Topic, p.Partition.Value, epoch, newOwner, next, -1, -1, OwnershipClaim.Released, Target.Region,
            $"{Target.Region}/{Environment.MachineName}/{Environment.ProcessId}", DateTimeOffset.UtcNow));

    public bool IsFresh(long nowTicks) => Complete && Latest is { } l && nowTicks - l.ReadAtTicks <= MaxViewAgeMs;

    /// <summary>A refresh that finished since the last call, or null; starts the next one when due.</summary>
    public OwnershipSnapshot? Poll(CancellationToken stopping)
    {
        OwnershipSnapshot? taken = null;
        if (_refresh is { IsCompleted: true } done)
        {
            _refresh = null;
            if (done.IsCompletedSuccessfully) taken = Take(done.Result);
            else if (Environment.TickCount64 - _lastWarning > 10_000)
            {
                _lastWarning = Environment.TickCount64;
                _logger.LogWarning("Reading ownership of {Table} failed; its groups wait while the view is older than {Ms} ms: {Error}",
                    Target.Table, MaxViewAgeMs, done.Exception?.GetBaseException().Message);
            }
        }
        var now = Environment.TickCount64;
        if (_refresh is null && now >= _due && !stopping.IsCancellationRequested)
        {
            _due = now + _intervalMs;
            _refresh = RefreshAsync(stopping);
        }
        return taken;
    }

    /// <summary>A view read now, on the calling (pipeline) thread: on assignment, before partitions are resumed.
    /// Retries the home subcluster until it answers (as checkpoint reads do); the other one is best effort.</summary>
    public OwnershipSnapshot RefreshNow(CancellationToken stopping)
    {
        try
        {
            _refresh?.Wait(stopping);
        }
        catch (AggregateException)
        {
            // Superseded by the read below.
        }
        _refresh = null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var snapshot = Take(RefreshAsync(stopping).GetAwaiter().GetResult());
                _due = Environment.TickCount64 + _intervalMs;
                return snapshot;
            }
            catch (Exception e) when (e is not OperationCanceledException && !stopping.IsCancellationRequested)
            {
                _logger.LogWarning("Reading ownership of {Table} failed (attempt {Attempt}), trying again: {Error}", Target.Table, attempt, e.Message);
                stopping.WaitHandle.WaitOne(Math.Min(5_000, 200 * attempt));
            }
        }
    }

    private OwnershipSnapshot Take(OwnershipSnapshot snapshot)
    {
        Latest = snapshot;
        Complete |= snapshot.OtherRead;
        return snapshot;
    }

    private async Task<OwnershipSnapshot> RefreshAsync(CancellationToken ct)
    {
        var t = Target;
        var (homeClient, home) = await SubclusterReads.HomeAsync(t, ct).ConfigureAwait(false);
        await ObserveReplicasAsync(homeClient, ct).ConfigureAwait(false);
        await WriteReleasesAsync(homeClient, home, ct).ConfigureAwait(false);

        var otherRead = false;
        var homeReadAt = Environment.TickCount64;
        foreach (var (client, i) in t.Other.Select((c, i) => (c, i)))
        {
            if (ct.IsCancellationRequested) break;
            // A hung replica of the other subcluster (its server frozen) must not hold up this region's own view,
            // which its writes wait for (MaxViewAgeMs): each replica gets half a FollowInterval and half a second.
            using var otherDeadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            otherDeadline.CancelAfter(TimeSpan.FromMilliseconds(_intervalMs / 2 + 500));
            try
            {
                // A replica catching up (back after a loss, its queue not empty) may not show the newest claims yet,
                // and a view without a takeover's claim would let this region write on: another replica of that
                // subcluster is asked first; the last one is taken as it is. (The commands take any answer instead:
                // SubclusterReads.OtherAsync.)
                if (i < t.Other.Count - 1 && (await ReplicaStatus.ReadAsync(client, t.OwnershipTable, replicaCounts: false, otherDeadline.Token).ConfigureAwait(false)).CatchingUp) continue;
                var other = await SubclusterReads.ReadOtherAsync(client, t, otherDeadline.Token).ConfigureAwait(false);
                _otherClaims = other.Claims;
                _otherCheckpoints = other.Checkpoints;
                otherRead = true;
                await CopyMissingAsync(homeClient, home, client, other.Claims, otherDeadline.Token).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The other region may be lost: its part of the view stays as last read.
            }
        }
        var view = new OwnershipView(home.Concat(_otherClaims), t.InitialOwner);
        return new OwnershipSnapshot(view, otherRead, _otherCheckpoints, homeReadAt);
    }

    /// <summary>A claim is written into the claimant's subcluster and, when it can be, into the other. What one copy
    /// lacks is copied into it here (the same rows: deduplicated if they raced), so both copies converge once both
    /// subclusters take writes again.</summary>
    private async Task CopyMissingAsync(ClickHouseHttpClient home, List<OwnershipClaim> homeClaims, ClickHouseHttpClient other, List<OwnershipClaim> otherClaims,
        CancellationToken ct)
    {
        var t = Target;
        try
        {
            var intoHome = otherClaims.Except(homeClaims).ToList();
            var intoOther = homeClaims.Except(otherClaims).ToList();
            if (intoHome.Count > 0) await OwnershipTable.WriteAsync(home, t.OwnershipTable, t.BaseGroup, t.Table, intoHome, ct).ConfigureAwait(false);
            if (intoOther.Count > 0) await OwnershipTable.WriteAsync(other, t.OwnershipTable, t.BaseGroup, t.Table, intoOther, ct).ConfigureAwait(false);
        }
        catch (ClickHouseServerException)
        {
            // A subcluster without its Keeper is read-only; the copy is made by a later refresh.
        }
    }

    private async Task WriteReleasesAsync(ClickHouseHttpClient home, List<OwnershipClaim> homeClaims, CancellationToken ct)
    {
        var releases = new List<OwnershipClaim>();
        while (_releases.TryDequeue(out var r)) releases.Add(r);
        if (releases.Count == 0) return;
        try
        {
            await OwnershipTable.WriteAsync(home, Target.OwnershipTable, Target.BaseGroup, Target.Table, releases, ct).ConfigureAwait(false);
            homeClaims.AddRange(releases);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            foreach (var r in releases) _releases.Enqueue(r);
            _logger.LogWarning("Release rows of {Table} not written yet, retrying with the next refresh: {Error}", Target.Table, e.Message);
        }
    }

    private async Task ObserveReplicasAsync(ClickHouseHttpClient client, CancellationToken ct)
    {
        try
        {
            if (await ReplicaStatus.ReadAsync(client, Target.Table, replicaCounts: true, ct).ConfigureAwait(false) is { ActiveReplicas: { } active, TotalReplicas: { } total })
                Quorum.Observed(active, total);
        }
        catch (ClickHouseServerException)
        {
            // Health is a hint for the quorum policy; the INSERT's own errors decide too.
        }
    }

    public void Dispose() => Target.Dispose();
}

using System.Diagnostics;
using Ingest.Pipeline.Control;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Backup;

/// <summary>One worker of the region as a backup point sees it: the pipeline in this process, or another worker
/// reached through its admin API.</summary>
internal interface IBackupParticipant
{
    /// <summary>How the worker is named in the point (host/pid, or its admin URL).</summary>
    string Name { get; }

    /// <summary>Pauses every partition with reason <see cref="PauseReasons.Backup"/>, also those assigned later.</summary>
    Task PauseAsync(CancellationToken ct);

    /// <summary>Waits until everything consumed is in ClickHouse and checkpointed; answers each partition's position.</summary>
    Task<FlushResult> FlushAsync(TimeSpan timeout, CancellationToken ct);

    /// <summary>Lifts reason <see cref="PauseReasons.Backup"/> (other reasons keep holding).</summary>
    Task ResumeAsync(CancellationToken ct);
}

/// <summary>The pipeline of this process as a participant.</summary>
internal sealed class LocalParticipant(string name, IPipelineControl control) : IBackupParticipant
{
    public string Name => name;

    public Task PauseAsync(CancellationToken ct) => control.PauseAsync(PartitionSelector.All, PauseReasons.Backup, ct);

    public async Task<FlushResult> FlushAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            // WaitAsync: the deadline holds even if the flush does not watch its token.
            return await control.FlushAsync(PartitionSelector.All, deadline.Token).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"{name}: flush did not finish within {ControlTimeout.Format(timeout)}");
        }
    }

    public Task ResumeAsync(CancellationToken ct) => control.ResumeAsync(PartitionSelector.All, PauseReasons.Backup, ct);
}

/// <summary>A backup point the coordinator refused before pausing anything (its name is taken, invalid).</summary>
internal sealed class BackupPointRefusedException(string message) : InvalidOperationException(message);

/// <summary>Takes a backup point of a region (seed: "stop ingest temporarily, capture the Kafka topic offsets into a
/// ClickHouse table, wait for replicas to sync, run the backup, re-enable ingest"): every worker pauses with reason
/// backup and flushes; their positions are recorded in the backup-point table (status started: the state the backup
/// itself holds); the replicas sync; the backend runs under a deadline; the outcome and the pause time are recorded;
/// and every worker resumes, whatever happened before.</summary>
internal sealed class BackupCoordinator(
    IReadOnlyList<IBackupParticipant> workers,
    IBackupBackend backend,
    BackupCoordinator.Steps steps,
    ILogger logger)
{
    /// <summary>What the coordinator does with ClickHouse, as steps (tests replace them).</summary>
    /// <param name="Find">The existing point of that name, or null.</param>
    /// <param name="Record">Writes the point's current state in every backup-point table.</param>
    /// <param name="SyncReplicas">SYSTEM SYNC REPLICA for the tables on the region's replicas.</param>
    /// <param name="Tables">The tables the backup holds (data, checkpoints, backup points).</param>
    /// <param name="Region">The region the point is taken of.</param>
    /// <param name="Group">The region's consumer group.</param>
    /// <param name="Partitions">Every partition of the region's named topics (from Kafka): each must be reported by a
    /// worker, or the point would not cover it.</param>
    internal sealed record Steps(
        Func<string, CancellationToken, Task<BackupPoint?>> Find,
        Func<BackupPoint, CancellationToken, Task> Record,
        Func<IReadOnlyList<string>, CancellationToken, Task> SyncReplicas,
        IReadOnlyList<string> Tables,
        string Region,
        string Group,
        Func<CancellationToken, Task<IReadOnlyList<(string Topic, int Partition)>>>? Partitions = null)
    {
        /// <summary>The steps on the region's ClickHouse: the point found in the first backup-point table that has it,
        /// recorded in all of them (created when missing), replicas synced on every endpoint.</summary>
        public static Steps On(RegionTables region, IngestOptions? options = null)
        {
            var ensured = false;
            return new Steps(
                async (name, ct) =>
                {
                    var client = await region.FirstReachableAsync(ct).ConfigureAwait(false);
                    foreach (var table in region.BackupPointTables)
                    {
                        if (await new BackupPointStore(client, table).TryFindAsync(region.Region, region.Group, name, ct).ConfigureAwait(false) is { } p) return p;
                    }
                    return null;
                },
                async (point, ct) =>
                {
                    var client = await region.FirstReachableAsync(ct).ConfigureAwait(false);
                    // Replicated like the data, so that every replica (and a backup of any of them) holds the points.
                    var replicated = !ensured && await region.IsReplicatedAsync(client, ct).ConfigureAwait(false);
                    foreach (var table in region.BackupPointTables)
                    {
                        var store = new BackupPointStore(client, table);
                        if (!ensured) await store.EnsureAsync(null, replicated, ct).ConfigureAwait(false);
                        await store.RecordAsync(point, ct).ConfigureAwait(false);
                    }
                    ensured = true;
                },
                async (tables, ct) => await region.SyncReplicasAsync(tables, ct).ConfigureAwait(false),
                region.All,
                region.Region,
                region.Group,
                options is null ? null : ct => Task.Run(() => TopicPartitions(options), ct));
        }
    }

    /// <summary>How long each worker may take to flush.</summary>
    public TimeSpan FlushTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long replica sync and the backend may take together; past it the backend is aborted.</summary>
    public TimeSpan BackupTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How long each worker's resume may take (it runs even when the caller gave up).</summary>
    public TimeSpan ResumeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Takes the point. A failure after the pause is recorded (status failed) and reported, not thrown: the
    /// report says what failed and which workers, if any, are still paused.</summary>
    public async Task<BackupPointReport> CreateAsync(string name, CancellationToken ct)
    {
        try
        {
            FreezeBackend.ValidateBackupName(name);
        }
        catch (ArgumentException e)
        {
            throw new BackupPointRefusedException(e.Message.Replace(" (Parameter 'backupName')", "", StringComparison.Ordinal));
        }
        if (await steps.Find(name, ct).ConfigureAwait(false) is { } existing)
            throw new BackupPointRefusedException($"backup point '{name}' already exists (status {existing.Status}, started {existing.StartedAt:u}); choose another name");

        var startedAt = DateTimeOffset.UtcNow;
        var paused = Stopwatch.StartNew();
        var point = new BackupPoint(name, steps.Region, steps.Group, "started", backend.Name, startedAt, null, 0, [.. workers.Select(w => w.Name)], []);
        string? detail = null;
        Exception? failure = null;
        var pausedWorkers = new List<IBackupParticipant>();
        IReadOnlyList<string> stillPaused = [];
        try
        {
            await Task.WhenAll(workers.Select(async w =>
            {
                await w.PauseAsync(ct).ConfigureAwait(false);
                lock (pausedWorkers) pausedWorkers.Add(w);
            })).ConfigureAwait(false);
            var flushed = await Task.WhenAll(workers.Select(w => w.FlushAsync(FlushTimeout, ct))).ConfigureAwait(false);
            point = point with { Positions = Merge(workers, flushed) };
            if (steps.Partitions is not null)
            {
                var reported = point.Positions.Select(p => (p.Topic, p.Partition)).ToHashSet();
                var missing = (await steps.Partitions(ct).ConfigureAwait(false)).Where(p => !reported.Contains(p)).ToList();
                if (missing.Count > 0)
                    throw new InvalidOperationException($"{string.Join(' ', missing.Take(20).Select(p => $"{p.Topic}[{p.Partition}]"))}{(missing.Count > 20 ? $" and {missing.Count - 20} more" : "")} " +
                        "were reported by none of the given workers (assigned to a worker not given, or to none during a rebalance): give every worker of the region and take the point again");
            }
            await steps.Record(point, ct).ConfigureAwait(false);
            logger.LogInformation("Backup point {Name}: {Workers} worker(s) paused and flushed, {Partitions} partition(s) recorded after {Ms} ms",
                name, workers.Count, point.Positions.Count, paused.ElapsedMilliseconds);

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(BackupTimeout);
            try
            {
                await steps.SyncReplicas(steps.Tables, deadline.Token).ConfigureAwait(false);
                detail = (await backend.BackupAsync(new BackupRequest(name, steps.Tables, point), deadline.Token).ConfigureAwait(false)).Detail;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw new TimeoutException($"replica sync and the {backend.Name} backup did not finish within {ControlTimeout.Format(BackupTimeout)}; the backup was aborted");
            }
        }
        catch (Exception e) when (e is not BackupPointRefusedException)
        {
            failure = e;
            logger.LogError(e, "Backup point {Name} failed", name);
        }
        finally
        {
            stillPaused = await ResumeAllAsync(name, pausedWorkers).ConfigureAwait(false);
        }

        point = point with
        {
            Status = failure is null ? "finished" : "failed",
            FinishedAt = DateTimeOffset.UtcNow,
            PauseMs = paused.ElapsedMilliseconds,
            Error = failure is null ? "" : Describe(failure),
        };
        if (point.Positions.Count > 0 || failure is not null)
        {
            try
            {
                await steps.Record(point, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Backup point {Name}: recording its outcome ({Status}) failed", name, point.Status);
                point = point with { Error = $"{point.Error}{(point.Error.Length > 0 ? "; " : "")}recording the outcome failed: {e.Message}" };
            }
        }
        logger.Log(failure is null ? LogLevel.Information : LogLevel.Error, "Backup point {Name} {Status}: paused {PauseMs} ms{Detail}",
            name, point.Status, point.PauseMs, failure is null ? $", {detail}" : $": {point.Error}");
        return Report(point, detail, stillPaused);
    }

    /// <summary>The partitions of every topic the routes name (patterns cannot be listed ahead; their topics are covered
    /// by what the workers report).</summary>
    private static IReadOnlyList<(string Topic, int Partition)> TopicPartitions(IngestOptions options)
    {
        var topics = options.EffectiveRoutes().SelectMany(r => r.Topics).Distinct(StringComparer.Ordinal).ToList();
        if (topics.Count == 0) return [];
        using var admin = Kafka.GroupOffsets.BuildAdmin(options.Kafka.BootstrapServers, options.Kafka.Properties);
        return [.. Kafka.GroupOffsets.Partitions(admin, topics, TimeSpan.FromSeconds(10)).Select(p => (p.Topic, p.Partition.Value))];
    }

    public static BackupPointReport Report(BackupPoint point, string? detail = null, IReadOnlyList<string>? stillPaused = null) => new(
        point.Name, point.Region, point.ConsumerGroup, point.Status, point.Backend, detail, point.StartedAt, point.FinishedAt, point.PauseMs,
        point.Workers, [.. point.Positions.Select(p => new PartitionPosition(p.Topic, p.Partition, p.Table, p.Committed))],
        point.Error.Length > 0 ? point.Error : null, stillPaused ?? []);

    /// <summary>Every worker's positions as one list; a partition two workers report means partitions moved between
    /// the pause and the flush (a rebalance): the positions would not describe one moment, so the point fails.</summary>
    private static List<BackupPointPosition> Merge(IReadOnlyList<IBackupParticipant> workers, FlushResult[] flushed)
    {
        var seen = new Dictionary<(string, int), string>();
        var positions = new List<BackupPointPosition>();
        for (var i = 0; i < flushed.Length; i++)
        {
            foreach (var p in flushed[i].Positions)
            {
                if (!seen.TryAdd((p.Topic, p.Partition), workers[i].Name))
                    throw new InvalidOperationException($"{p.Topic}[{p.Partition}] was reported by {seen[(p.Topic, p.Partition)]} and {workers[i].Name}: the group rebalanced during the backup point; take it again");
                positions.Add(new BackupPointPosition(p.Topic, p.Partition, p.Table, p.Committed));
            }
        }
        positions.Sort((a, b) => (string.CompareOrdinal(a.Topic, b.Topic), a.Partition.CompareTo(b.Partition)) switch
        {
            (0, var byPartition) => byPartition,
            (var byTopic, _) => byTopic,
        });
        return positions;
    }

    /// <summary>Resumes every worker that was paused, each under its own deadline and regardless of the caller's token:
    /// a backup point never leaves ingest paused because its caller went away. Returns the workers that could not be
    /// resumed, with why.</summary>
    private async Task<IReadOnlyList<string>> ResumeAllAsync(string name, List<IBackupParticipant> paused)
    {
        var failed = new List<string>();
        await Task.WhenAll(paused.Select(async w =>
        {
            using var deadline = new CancellationTokenSource(ResumeTimeout);
            try
            {
                await w.ResumeAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Backup point {Name}: {Worker} could not be resumed; it stays paused (reason backup) until `ingest resume --reason backup`", name, w.Name);
                lock (failed) failed.Add($"{w.Name}: {e.Message}");
            }
        })).ConfigureAwait(false);
        return failed;
    }

    private static string Describe(Exception e) => e is AggregateException { InnerExceptions.Count: 1 } a ? Describe(a.InnerExceptions[0]) : e.Message;
}

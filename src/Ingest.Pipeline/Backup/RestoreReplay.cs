using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Ingest.Pipeline.Checkpoints;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Kafka;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Backup;

/// <summary>What a restore changed: the group's offsets (how the reset found the group free) and the checkpoints it
/// rewrote.</summary>
internal sealed record RestoreOutcome(RestorePlan Plan, GroupOffsetsReset Reset, int CheckpointsWritten);

/// <summary>Restore replay: after a region's tables were restored (by <c>ingest restore --restore-data</c>, a backup
/// tool, or by hand), decide where each partition replays from, move the region's consumer group and the checkpoints
/// there, and let the workers replay.
/// <para>The restored data decides. With the provenance columns every row names its message, and Ingest writes a
/// partition's messages in offset order, one INSERT (one block) per batch, the next only after the previous was
/// acknowledged: so the rows of a partition are an unbroken run of offsets, and replay starts right after the
/// highest. Against a backup point the data must end exactly where the point says (otherwise the table is not the one
/// the point's backup holds); without one (a backup that knew nothing of Ingest, whose data and checkpoint tables were
/// copied at slightly different moments) the data's end is taken over the restored checkpoint, which is reported.
/// Duplicated or missing offsets inside the run, or messages Kafka no longer holds, refuse the restore: replay could not
/// make that partition exactly-once.</para></summary>
internal sealed class RestoreReplay(IngestOptions options, ILogger logger)
{
    /// <summary>The point as first read: <c>--restore-data</c> then the plan use the same one, read once.</summary>
    private BackupPoint? _point;

    /// <summary>How the plan is read; <paramref name="pointName"/> null: reconcile the restored checkpoints with the data.</summary>
    public async Task<RestorePlan> PlanAsync(string? pointName, CancellationToken ct)
    {
        using var region = RegionTables.From(options);
        var client = await region.FirstReachableAsync(ct).ConfigureAwait(false);
        BackupPoint? point = null;
        if (pointName is not null) point = await FindPointAsync(region, client, pointName, ct).ConfigureAwait(false);

        var tables = point is null ? region.DataTables : [.. point.Positions.Select(p => p.Table).Distinct(StringComparer.Ordinal)];
        var partitions = new List<RestorePartition>();
        var problems = new List<string>();
        foreach (var table in tables)
        {
            var columns = await ColumnsAsync(client, table, ct).ConfigureAwait(false);
            if (columns.Count == 0)
            {
                problems.Add($"table {table} does not exist: restore it from the backup first (ingest restore --restore-data, or the backup tool)");
                continue;
            }
            var mapping = region.Mappings.GetValueOrDefault(table) ?? options.Mapping;
            var topics = point?.Positions.Where(p => p.Table == table).Select(p => p.Topic).Distinct(StringComparer.Ordinal).ToList();
            var checkpoints = region.CheckpointTableOf(table) is { } cpTable
                ? await CheckpointsAsync(client, cpTable, region.Group, table, ct).ConfigureAwait(false)
                : [];
            topics ??= [.. checkpoints.Keys.Select(k => k.Topic).Distinct(StringComparer.Ordinal)];
            var (data, missing) = await DataAsync(client, table, columns, mapping.Provenance, topics, ct).ConfigureAwait(false);
            if (missing is not null)
            {
                problems.Add($"table {table} {missing}: the restored data cannot be checked against the {(point is null ? "checkpoints" : "backup point")}");
                continue;
            }
            IEnumerable<(string Topic, int Partition)> keys = point is not null
                ? point.Positions.Where(p => p.Table == table).Select(p => (p.Topic, p.Partition))
                : checkpoints.Keys.Union(data.Keys);
            foreach (var (topic, partition) in keys.OrderBy(k => k.Item1, StringComparer.Ordinal).ThenBy(k => k.Item2))
            {
                var at = point?.Positions.First(p => p.Topic == topic && p.Partition == partition).Committed;
                partitions.Add(Decide(topic, partition, table, at, checkpoints.GetValueOrDefault((topic, partition)), data.TryGetValue((topic, partition), out var d) ? d : null));
            }
        }
        if (problems.Count > 0)
            throw new RestoreRefusedException("Restore refused:\n  " + string.Join("\n  ", problems));

        partitions = await WithKafkaAsync(partitions, ct).ConfigureAwait(false);
        return new RestorePlan(region.Region, region.Group, point, partitions);
    }

    /// <summary>Restores the point's data tables through <paramref name="backend"/> (each must be missing or empty),
    /// after checking that the region's group has no active member: a restore under running workers would be refused
    /// later anyway, and by then the tables would already be changed.</summary>
    public async Task<BackupResult> RestoreDataAsync(string pointName, IBackupBackend backend, TimeSpan timeout, CancellationToken ct)
    {
        using var region = RegionTables.From(options);
        var client = await region.FirstReachableAsync(ct).ConfigureAwait(false);
        var point = await FindPointAsync(region, client, pointName, ct).ConfigureAwait(false);
        try
        {
            await new GroupOffsets(logger).EnsureNoActiveMembersAsync(options.Kafka.BootstrapServers, region.Group,
                point.Positions.Select(p => p.Topic), timeout, options.Kafka.Properties, ct).ConfigureAwait(false);
        }
        catch (GroupHasActiveMembersException e)
        {
            throw new RestoreRefusedException($"Restore refused, nothing changed: {e.Message}", null, e);
        }
        var tables = point.Positions.Select(p => p.Table).Distinct(StringComparer.Ordinal).ToList();
        logger.LogInformation("Restoring {Tables} from backup {Name} ({Backend})", string.Join(", ", tables), pointName, backend.Name);
        return await backend.RestoreAsync(new BackupRequest(pointName, tables, point), ct).ConfigureAwait(false);
    }

    /// <summary>Moves the group's committed offsets to the plan (refused while the group has active members: stop the
    /// region's workers first), then writes a committed checkpoint at the same place for every planned partition, so the
    /// workers, which resume from the checkpoints, replay from there.</summary>
    public async Task<RestoreOutcome> ApplyAsync(RestorePlan plan, TimeSpan timeout, CancellationToken ct)
    {
        if (plan.Problems.Count > 0)
            throw new RestoreRefusedException("Restore refused:\n  " + string.Join("\n  ", plan.Problems.Select(p => $"{p.Name} of {p.Table}: {p.Problem}")), plan);
        var offsets = plan.Offsets;
        if (offsets.Count == 0) throw new RestoreRefusedException("nothing to restore: no partition has a position in the data, the checkpoints or the backup point", plan);

        GroupOffsetsReset reset;
        try
        {
            reset = await new GroupOffsets(logger).ResetAsync(options.Kafka.BootstrapServers, plan.Group, offsets, timeout, options.Kafka.Properties, ct).ConfigureAwait(false);
        }
        catch (GroupHasActiveMembersException e)
        {
            throw new RestoreRefusedException($"Restore refused, nothing changed: {e.Message}", plan, e);
        }

        using var region = RegionTables.From(options);
        var client = await region.FirstReachableAsync(ct).ConfigureAwait(false);
        var written = 0;
        foreach (var byTable in plan.Partitions.Where(p => p.Resume is not null).GroupBy(p => p.Table))
        {
            if (region.CheckpointTableOf(byTable.Key) is not { } cpTable) continue;
            written += await RewindCheckpointsAsync(client, region, cpTable, byTable.Key, [.. byTable], ct).ConfigureAwait(false);
        }
        logger.LogInformation("Restore of region {Region}: group {Group} reset ({Partitions} partitions), {Checkpoints} checkpoints rewritten",
            plan.Region, plan.Group, offsets.Count, written);
        return new RestoreOutcome(plan, reset, written);
    }

    private static RestorePartition Decide(string topic, int partition, string table, long? point, Checkpoint? checkpoint, DataExtent? data)
    {
        long? cp = checkpoint is { } c ? c.ResumeOffset : null;
        var name = $"{topic}[{partition}]";
        string? problem = null;
        long? resume;
        if (data is { Duplicates: > 0 } dup)
            problem = $"{dup.Duplicates} rows of {name} repeat an offset another row has: the restored data is not exactly-once already";
        else if (data is { Gaps: > 0 } gap)
            problem = $"{gap.Gaps} offsets of {name} between {gap.MinOffset} and {gap.Next - 1} have no row: the data is not an unbroken run " +
                "(a backup caught an INSERT half-way, or rows were deleted), so no replay position makes it exactly-once";
        if (point is { } p)
        {
            resume = p;
            var next = data?.Next;
            if (problem is null && next != p && !(next is null && p == 0))
            {
                problem = next switch
                {
                    null => $"{table} has no row of {name}, but the backup point has its offsets up to {p - 1}: restore the table's data from the point's backup first",
                    _ when next > p => $"{table} holds {name} up to offset {next - 1}, past the backup point's {p - 1}: the table holds data written after the point (restore it from the point's backup first)",
                    _ => $"{table} holds {name} only up to offset {next - 1}, but the backup point says {p - 1}: rows the point had are missing; the checkpoints and the data disagree",
                };
            }
        }
        else if (data is { } d)
            resume = d.Next;
        else if (cp is { } onlyCheckpoint && onlyCheckpoint > 0)
        {
            resume = null;
            problem ??= $"the checkpoint says offsets of {name} up to {onlyCheckpoint - 1} were written, but {table} has none of its rows: where its data began is not known, so replay cannot be exact";
        }
        else
            resume = cp;
        return new RestorePartition(topic, partition, table, point, cp, data, null, resume, problem);
    }

    /// <summary>Adds Kafka's earliest offset per partition; a replay that would start before it cannot be exact.</summary>
    private async Task<List<RestorePartition>> WithKafkaAsync(List<RestorePartition> partitions, CancellationToken ct)
    {
        var config = new ConsumerConfig { BootstrapServers = options.Kafka.BootstrapServers, GroupId = "ingest-restore-watermarks" };
        foreach (var (k, v) in options.Kafka.Properties) config.Set(k, v);
        config.BootstrapServers = options.Kafka.BootstrapServers;
        return await Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).Build();
            return partitions.Select(p =>
            {
                ct.ThrowIfCancellationRequested();
                var w = consumer.QueryWatermarkOffsets(new TopicPartition(p.Topic, p.Partition), TimeSpan.FromSeconds(10));
                var problem = p.Problem;
                if (problem is null && p.Resume is { } r && r < w.Low.Value)
                    problem = $"Kafka no longer holds offsets {r}..{w.Low.Value - 1} of {p.Name} (retention): {w.Low.Value - r} messages cannot be replayed";
                else if (problem is null && p.Resume is { } r2 && r2 > w.High.Value)
                    problem = $"replay would start at {r2}, past the end of {p.Name} ({w.High.Value}): was the topic recreated?";
                return p with { KafkaEarliest = w.Low.Value, Problem = problem };
            }).ToList();
        }, ct).ConfigureAwait(false);
    }

    private async Task<BackupPoint> FindPointAsync(RegionTables region, ClickHouseHttpClient client, string name, CancellationToken ct)
    {
        if (_point is { } found && found.Name == name) return found;
        foreach (var table in region.BackupPointTables)
        {
            if (await new BackupPointStore(client, table).TryFindAsync(region.Region, region.Group, name, ct).ConfigureAwait(false) is not { } point) continue;
            if (point.Status == "failed")
                throw new RestoreRefusedException($"backup point '{name}' failed ({point.Error}): its backup is not complete; restore another point");
            logger.LogInformation("Backup point {Name} found in {Table}: status {Status}, {Partitions} partitions", name, table, point.Status, point.Positions.Count);
            return _point = point;
        }
        var known = await new BackupPointStore(client, region.BackupPointTables[0]).TryListAsync(region.Region, region.Group, ct).ConfigureAwait(false);
        throw new RestoreRefusedException($"no backup point '{name}' of region {region.Region} (group {region.Group}) in {string.Join(", ", region.BackupPointTables)}; " +
            (known.Count == 0 ? "there is none" : "the points there: " + string.Join(", ", known.Select(p => $"{p.Name} ({p.Status})"))));
    }

    private static async Task<HashSet<string>> ColumnsAsync(ClickHouseHttpClient client, string table, CancellationToken ct)
    {
        var (db, name) = ClickHouseText.SplitTable(table);
        var text = await client.QueryAsync(
            $"SELECT name FROM system.columns WHERE database = {ClickHouseText.Quote(db)} AND table = {ClickHouseText.Quote(name)} FORMAT TSV", ct: ct).ConfigureAwait(false);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ClickHouseText.UnescapeTsv)];
    }

    /// <summary>Per (topic, partition): rows, distinct offsets, lowest and next offset of the restored data. The topic
    /// comes from the topic column, or is the table's only topic; a table fed by several topics needs the column.</summary>
    private static async Task<(Dictionary<(string, int), DataExtent> Data, string? Missing)> DataAsync(
        ClickHouseHttpClient client, string table, HashSet<string> columns, Decoding.ProvenanceColumns provenance, IReadOnlyList<string> topics, CancellationToken ct)
    {
        var wanted = new List<string>();
        if (!columns.Contains(provenance.Partition)) wanted.Add(provenance.Partition);
        if (!columns.Contains(provenance.Offset)) wanted.Add(provenance.Offset);
        var topicColumn = columns.Contains(provenance.Topic) ? provenance.Topic : null;
        if (topicColumn is null && topics.Count > 1) wanted.Add(provenance.Topic);
        if (wanted.Count > 0)
            return ([], $"has no provenance column {string.Join(", ", wanted)} (Ingest:Mapping:Provenance)");
        if (topics.Count == 0 && topicColumn is null) return ([], null);

        var topic = topicColumn is null ? ClickHouseText.Quote(topics[0]) : $"toString(`{topicColumn}`)";
        var (p, o) = ($"toUInt32(`{provenance.Partition}`)", $"toInt64(`{provenance.Offset}`)");
        var text = await client.QueryAsync(
            $"SELECT {topic}, {p}, count(), uniqExact({o}), min({o}), max({o}) FROM {table} GROUP BY {topic}, {p} FORMAT TSV", ct: ct).ConfigureAwait(false);
        var data = new Dictionary<(string, int), DataExtent>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            long L(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
            data[(ClickHouseText.UnescapeTsv(f[0]), int.Parse(f[1], CultureInfo.InvariantCulture))] = new DataExtent(L(2), L(3), L(4), L(5) + 1);
        }
        return (data, null);
    }

    /// <summary>The newest checkpoint per (topic, partition) of <paramref name="group"/> into <paramref name="table"/>;
    /// empty when the checkpoint table does not exist.</summary>
    private static async Task<Dictionary<(string Topic, int Partition), Checkpoint>> CheckpointsAsync(
        ClickHouseHttpClient client, string checkpointTable, string group, string table, CancellationToken ct)
    {
        try
        {
            var all = await CheckpointStore.ReadGroupAsync(sql => client.QueryAsync(sql, null, ct), checkpointTable, group, table).ConfigureAwait(false);
            return all.ToDictionary(kv => (kv.Key.Topic, kv.Key.Partition.Value), kv => kv.Value);
        }
        catch (ClickHouseServerException e) when (e.Code == BackupPointStore.UnknownTable)
        {
            return [];
        }
    }

    /// <summary>A committed checkpoint ending right before each partition's replay position, newer than any row the
    /// table has for it (versions are Unix microseconds; a worker's next version is above the one it loaded).</summary>
    private async Task<int> RewindCheckpointsAsync(ClickHouseHttpClient client, RegionTables region, string checkpointTable, string table,
        IReadOnlyList<RestorePartition> partitions, CancellationToken ct)
    {
        var replicated = await region.IsReplicatedAsync(client, ct).ConfigureAwait(false);
        await client.ExecuteAsync(CheckpointStore.CreateStatement(checkpointTable, options.Checkpoints.Engine, replicated), ct: ct).ConfigureAwait(false);
        var versions = await CheckpointsAsync(client, checkpointTable, region.Group, table, ct).ConfigureAwait(false);
        var now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var body = new StringBuilder();
        foreach (var p in partitions)
        {
            var version = Math.Max(now, versions.TryGetValue((p.Topic, p.Partition), out var c) ? c.Version + 1 : 0);
            body.Append(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["consumer_group"] = region.Group,
                ["target_table"] = table,
                ["topic"] = p.Topic,
                ["partition"] = p.Partition,
                ["first_offset"] = p.Resume!.Value - 1,
                ["last_offset"] = p.Resume!.Value - 1,
                ["state"] = "committed",
                ["rows"] = 0,
                ["worker"] = $"ingest restore ({Environment.MachineName})",
                ["updated_at"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["version"] = version,
                ["members"] = "",
            })).Append('\n');
        }
        using var content = new StringContent(body.ToString(), Encoding.UTF8, "application/json");
        await client.InsertAsync(checkpointTable, "JSONEachRow", content, new Dictionary<string, string> { ["insert_deduplicate"] = "0" }, ct).ConfigureAwait(false);
        return partitions.Count;
    }
}

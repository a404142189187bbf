using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Backup;

/// <summary>One partition's committed position in a backup point: everything before <see cref="Committed"/> is in the
/// table (and its checkpoints) the backup holds.</summary>
internal sealed record BackupPointPosition(string Topic, int Partition, string Table, long Committed);

/// <summary>A backup point as recorded next to the data: who took it, where each partition stood, how it went.</summary>
internal sealed record BackupPoint(
    string Name,
    string Region,
    string ConsumerGroup,
    string Status,
    string Backend,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    long PauseMs,
    IReadOnlyList<string> Workers,
    IReadOnlyList<BackupPointPosition> Positions,
    string Error = "");

/// <summary>The <c>ingest_backup_points</c> table: a row per state of a backup point (started, then finished or
/// failed), the newest <c>version</c> winning per (region, group, name). It lives in the target's database next to the
/// data and the checkpoints, so every backup of that database holds the points it was taken at.</summary>
internal sealed class BackupPointStore(ClickHouseHttpClient client, string table)
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    // Int64 columns come back as JSON numbers, not strings (18.16 quotes them by default).
    private static readonly Dictionary<string, string> Unquoted = new() { ["output_format_json_quote_64bit_integers"] = "0" };

    private static long _sequence;

    public string Table { get; } = table;

    /// <summary>The statement that creates the table; <paramref name="engine"/> null: ReplacingMergeTree, replicated when
    /// <paramref name="replicated"/>, like the checkpoint table. Times are Unix milliseconds: no server time zone in between.</summary>
    public static string CreateStatement(string table, string? engine, bool replicated)
    {
        engine ??= ClickHouseText.VersionedEngine(table, replicated);
        return $"""
            CREATE TABLE IF NOT EXISTS {table}
            (
                name String,
                region String,
                consumer_group String,
                status String,
                backend String,
                started_at_ms Int64,
                finished_at_ms Int64,
                pause_ms Int64,
                workers Array(String),
                topics Array(String),
                partitions Array(UInt32),
                tables Array(String),
                offsets Array(Int64),
                error String,
                version UInt64
            )
            ENGINE = {engine}
            ORDER BY (region, consumer_group, name)
            """;
    }

    public Task EnsureAsync(string? engine, bool replicated, CancellationToken ct) => client.ExecuteAsync(CreateStatement(Table, engine, replicated), null, ct);

    /// <summary>Writes the point's current state; a later write of the same name replaces it.</summary>
    public async Task RecordAsync(BackupPoint point, CancellationToken ct)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["name"] = point.Name,
            ["region"] = point.Region,
            ["consumer_group"] = point.ConsumerGroup,
            ["status"] = point.Status,
            ["backend"] = point.Backend,
            ["started_at_ms"] = point.StartedAt.ToUnixTimeMilliseconds(),
            ["finished_at_ms"] = point.FinishedAt?.ToUnixTimeMilliseconds() ?? 0,
            ["pause_ms"] = point.PauseMs,
            ["workers"] = point.Workers,
            ["topics"] = point.Positions.Select(p => p.Topic).ToArray(),
            ["partitions"] = point.Positions.Select(p => p.Partition).ToArray(),
            ["tables"] = point.Positions.Select(p => p.Table).ToArray(),
            ["offsets"] = point.Positions.Select(p => p.Committed).ToArray(),
            ["error"] = point.Error,
            // Microseconds: two writes of one point within a millisecond still order.
            ["version"] = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + Interlocked.Increment(ref _sequence) % 1000),
        });
        using var body = new StringContent(json + "\n", Encoding.UTF8);
        body.Headers.ContentType = Json;
        await client.InsertAsync(Table, "JSONEachRow", body, null, ct).ConfigureAwait(false);
    }

    /// <summary>The newest state of every point of <paramref name="region"/>'s <paramref name="consumerGroup"/>, oldest first.</summary>
    public async Task<IReadOnlyList<BackupPoint>> ListAsync(string region, string consumerGroup, CancellationToken ct)
    {
        var text = await client.QueryAsync(
            $"SELECT * FROM {Table} FINAL WHERE region = {ClickHouseText.Quote(region)} AND consumer_group = {ClickHouseText.Quote(consumerGroup)} " +
            "ORDER BY started_at_ms, name FORMAT JSONEachRow", Unquoted, ct).ConfigureAwait(false);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse)];
    }

    /// <summary>The point named <paramref name="name"/>, or null.</summary>
    public async Task<BackupPoint?> FindAsync(string region, string consumerGroup, string name, CancellationToken ct) =>
        (await ListAsync(region, consumerGroup, ct).ConfigureAwait(false)).FirstOrDefault(p => p.Name == name);

    /// <summary>Like <see cref="FindAsync"/>, but null also when the table does not exist (no point was ever taken).</summary>
    public async Task<BackupPoint?> TryFindAsync(string region, string consumerGroup, string name, CancellationToken ct)
    {
        try
        {
            return await FindAsync(region, consumerGroup, name, ct).ConfigureAwait(false);
        }
        catch (ClickHouseServerException e) when (e.Code == UnknownTable)
        {
            return null;
        }
    }

    /// <summary>Like <see cref="ListAsync"/>, but empty when the table does not exist yet.</summary>
    public async Task<IReadOnlyList<BackupPoint>> TryListAsync(string region, string consumerGroup, CancellationToken ct)
    {
        try
        {
            return await ListAsync(region, consumerGroup, ct).ConfigureAwait(false);
        }
        catch (ClickHouseServerException e) when (e.Code == UnknownTable)
        {
            return [];
        }
    }

    /// <summary>ClickHouse's UNKNOWN_TABLE.</summary>
    internal const int UnknownTable = 60;

    private static BackupPoint Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        string S(string name) => r.GetProperty(name).GetString() ?? "";
        long L(string name) => r.GetProperty(name).GetInt64();
        List<T> A<T>(string name, Func<JsonElement, T> read) => [.. r.GetProperty(name).EnumerateArray().Select(read)];
        var (topics, partitions, tables, offsets) = (A("topics", e => e.GetString() ?? ""), A("partitions", e => e.GetInt32()),
            A("tables", e => e.GetString() ?? ""), A("offsets", e => e.GetInt64()));
        if (new[] { partitions.Count, tables.Count, offsets.Count }.Any(n => n != topics.Count))
            throw new FormatException($"backup point {S("name")}: its position arrays differ in length");
        return new BackupPoint(S("name"), S("region"), S("consumer_group"), S("status"), S("backend"),
            DateTimeOffset.FromUnixTimeMilliseconds(L("started_at_ms")),
            L("finished_at_ms") is > 0 and var f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
            L("pause_ms"), A("workers", e => e.GetString() ?? ""),
            [.. topics.Select((t, i) => new BackupPointPosition(t, partitions[i], tables[i], offsets[i]))], S("error"));
    }
}

using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Regions;

/// <summary>A route's two-subcluster target as this region sees it: its home subcluster (where it writes), the other
/// one (read through this region's replica of it, first in the list), the tables and groups involved, and who owns a
/// partition at epoch 0.</summary>
internal sealed class SubclusterTarget : IDisposable
{
    private readonly X509Certificate2Collection? _ca;
    private readonly Dictionary<int, string> _map = [];
    private readonly string[] _regionsByName;

    public SubclusterTarget(IngestOptions options, RouteOptions route, TargetOptions target)
    {
        Options = target;
        Region = options.Region;
        OtherRegion = options.Regions.Single(r => r != options.Region);
        _regionsByName = [.. options.Regions.Order(StringComparer.Ordinal)];
        BaseGroup = options.Kafka.Group;
        Table = route.Table;
        var database = ClickHouseText.SplitTable(route.Table).Database;
        OwnershipTable = $"{database}.{target.Ownership.Table}";
        CheckpointTable = options.Checkpoints.Table ?? $"{database}.ingest_checkpoints";
        Topics = route.Topics;
        HomeEndpoints = target.Subclusters[Region];
        OtherEndpoints = target.Subclusters[OtherRegion];
        if (target.Ownership.Mode == OwnershipMode.Map)
        {
            foreach (var (region, partitions) in target.Ownership.Map)
            {
                foreach (var p in partitions) _map[p] = region;
            }
        }
        var ch = options.ClickHouse;
        _ca = ch.LoadCaCertificates();
        Home = [.. HomeEndpoints.Select(e => new ClickHouseHttpClient(new Uri(e), ch.User, ch.Password, ch.RequestTimeout, caCertificates: _ca))];
        Other = [.. OtherEndpoints.Select(e => new ClickHouseHttpClient(new Uri(e), ch.User, ch.Password, ch.RequestTimeout, caCertificates: _ca))];
    }

    public TargetOptions Options { get; }

    public string Region { get; }

    public string OtherRegion { get; }

    /// <summary>Kafka:Group without the region: the claims are shared by both regions' groups.</summary>
    public string BaseGroup { get; }

    public string GroupOf(string region) => $"{BaseGroup}.{region}";

    public string Table { get; }

    public string OwnershipTable { get; }

    public string CheckpointTable { get; }

    public IReadOnlyList<string> Topics { get; }

    public IReadOnlyList<string> HomeEndpoints { get; }

    public IReadOnlyList<string> OtherEndpoints { get; }

    /// <summary>This region's subcluster, local replica first.</summary>
    public IReadOnlyList<ClickHouseHttpClient> Home { get; }

    /// <summary>The other region's subcluster, this region's replica of it first.</summary>
    public IReadOnlyList<ClickHouseHttpClient> Other { get; }

    /// <summary>The subcluster <paramref name="region"/> writes into.</summary>
    public IReadOnlyList<ClickHouseHttpClient> SubclusterOf(string region) => region == Region ? Home : Other;

    public string InitialOwner(int partition) =>
        _map.TryGetValue(partition, out var region) ? region : _regionsByName[partition % _regionsByName.Length];

    public void Dispose()
    {
        foreach (var c in Home.Concat(Other)) c.Dispose();
        foreach (var c in _ca ?? []) c.Dispose();
    }
}

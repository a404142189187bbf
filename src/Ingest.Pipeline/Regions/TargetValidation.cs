namespace Ingest.Pipeline.Regions;

/// <summary>The checks of Ingest:Regions, Ingest:Targets and the routes' Target keys, each problem named with its key.</summary>
internal static class TargetValidation
{
    public static void Check(IngestOptions options, List<string> errors)
    {
        var regions = options.Regions;
        if (regions.Any(string.IsNullOrWhiteSpace)) errors.Add("Ingest:Regions has an empty region name");
        if (regions.Distinct(StringComparer.Ordinal).Count() != regions.Length) errors.Add("Ingest:Regions names a region twice");
        if (regions.Length > 0 && !regions.Contains(options.Region, StringComparer.Ordinal))
            errors.Add($"Ingest:Region '{options.Region}' is not one of Ingest:Regions ({string.Join(", ", regions)})");

        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, target) in options.Targets)
        {
            var key = $"Ingest:Targets:{name}";
            if (target.IsTwoSubcluster) CheckTwoSubcluster(options, key, target, errors);
            else if (string.Equals(target.Kind, TargetOptions.Independent, StringComparison.OrdinalIgnoreCase)) CheckIndependent(key, target, errors);
            else errors.Add($"{key}:Kind '{target.Kind}' is not {TargetOptions.Independent} or {TargetOptions.TwoSubcluster}");
        }

        var routes = options.Routes.Length == 0 ? [(Key: "Ingest:ClickHouse:Target", Options: options.EffectiveRoutes()[0])]
            : options.Routes.Select((r, i) => (Key: $"Ingest:Routes:{i}:Target", Options: r)).ToList();
        foreach (var (key, route) in routes)
        {
            if (route.Target is null) continue;
            if (!options.Targets.TryGetValue(route.Target, out var target))
            {
                errors.Add($"{key}: no target '{route.Target}' under Ingest:Targets (have: {string.Join(", ", options.Targets.Keys)})");
                continue;
            }
            if (!target.IsTwoSubcluster) continue;
            if (route.TopicPattern is not null)
                errors.Add($"{key}: two-subcluster target '{route.Target}' needs the route's topics named in Topics, not a TopicPattern (ownership is per partition of known topics)");
            if (!options.Checkpoints.Enabled)
                errors.Add($"{key}: two-subcluster target '{route.Target}' needs Ingest:Checkpoints:Enabled (ownership hand-overs resume from checkpoints)");
            var settings = options.ClickHouse.Settings.Keys.Concat(route.Settings.Keys);
            foreach (var s in settings.Where(s => s.StartsWith("insert_quorum", StringComparison.Ordinal)).Distinct())
                errors.Add($"{key}: setting {s} cannot be given for two-subcluster target '{route.Target}'; its Quorum policy sets it (Ingest:Targets:{route.Target}:Quorum)");
        }
        foreach (var (key, route) in routes)
        {
            // One table, one target: two targets would put one table's rows in different places.
            var target = route.Target ?? "";
            if (!string.IsNullOrEmpty(route.Table) && !owners.TryAdd(route.Table, target) && owners[route.Table] != target)
                errors.Add($"{key}: table {route.Table} is written by another route with target '{owners[route.Table]}'; one table has one target");
        }
    }

    private static void CheckIndependent(string key, TargetOptions target, List<string> errors)
    {
        if (target.Subclusters.Count > 0) errors.Add($"{key}:Subclusters is for two-subcluster targets; an independent target lists Endpoints");
        if (target.Endpoints.Length == 0) errors.Add($"{key}:Endpoints needs at least one http(s) URL");
        CheckUrls($"{key}:Endpoints", target.Endpoints, errors);
    }

    private static void CheckTwoSubcluster(IngestOptions options, string key, TargetOptions target, List<string> errors)
    {
        var regions = options.Regions;
        if (target.Endpoints.Length > 0) errors.Add($"{key}:Endpoints is for independent targets; a two-subcluster target lists Subclusters:<region>");
        if (regions.Length != 2)
        {
            errors.Add($"{key} is two-subcluster: Ingest:Regions must name exactly two regions (has {regions.Length})");
            return;
        }
        foreach (var region in regions.Where(r => !target.Subclusters.ContainsKey(r))) errors.Add($"{key}:Subclusters:{region} is missing (one subcluster per region)");
        foreach (var extra in target.Subclusters.Keys.Where(k => !regions.Contains(k, StringComparer.Ordinal)))
            errors.Add($"{key}:Subclusters:{extra}: '{extra}' is not one of Ingest:Regions ({string.Join(", ", regions)})");
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (region, endpoints) in target.Subclusters)
        {
            if (endpoints.Length == 0) errors.Add($"{key}:Subclusters:{region} needs at least one http(s) URL");
            CheckUrls($"{key}:Subclusters:{region}", endpoints, errors);
            foreach (var e in endpoints)
            {
                if (!seen.TryAdd(e.TrimEnd('/'), region) && seen[e.TrimEnd('/')] != region)
                    errors.Add($"{key}:Subclusters:{region}: '{e}' is also listed in Subclusters:{seen[e.TrimEnd('/')]}; a replica belongs to one subcluster");
            }
        }
        var ownership = target.Ownership;
        if (ownership.FollowInterval <= TimeSpan.Zero) errors.Add($"{key}:Ownership:FollowInterval must be > 0");
        if (string.IsNullOrWhiteSpace(ownership.Table) || ownership.Table.Contains('.', StringComparison.Ordinal))
            errors.Add($"{key}:Ownership:Table must be a table name (it is created in each route's database)");
        if (ownership.Mode == OwnershipMode.Map && ownership.Map.Count == 0) errors.Add($"{key}:Ownership:Map is empty (Mode map lists each region's partitions)");
        if (ownership.Mode != OwnershipMode.Map && ownership.Map.Count > 0) errors.Add($"{key}:Ownership:Map is given but Mode is {ownership.Mode}; set Mode to Map");
        var partitions = new Dictionary<int, string>();
        foreach (var (region, list) in ownership.Map)
        {
            if (!regions.Contains(region, StringComparer.Ordinal)) errors.Add($"{key}:Ownership:Map:{region}: '{region}' is not one of Ingest:Regions");
            foreach (var p in list)
            {
                if (p < 0) errors.Add($"{key}:Ownership:Map:{region}: partition {p} is negative");
                else if (!partitions.TryAdd(p, region)) errors.Add($"{key}:Ownership:Map:{region}: partition {p} is also listed for region {partitions[p]}");
            }
        }
        if (target.Quorum.Timeout <= TimeSpan.Zero) errors.Add($"{key}:Quorum:Timeout must be > 0");
    }

    private static void CheckUrls(string key, IEnumerable<string> urls, List<string> errors)
    {
        foreach (var e in urls)
        {
            if (!Uri.TryCreate(e, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https"))
                errors.Add($"{key}: '{e}' is not an http(s) URL");
        }
    }
}

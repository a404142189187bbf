using System.Globalization;
using Ingest.Pipeline.ClickHouse.Http;
using Microsoft.Extensions.Logging;

namespace Ingest.Pipeline.Regions;

/// <summary>insert_quorum for a two-subcluster target (its replicas sit in both regions). Measured on 18.16 with
/// quorum 2 and the other region's replica gone: 319 after insert_quorum_timeout while its Keeper session lives,
/// then 285 at once; so strict quorum stops the region's own writes when the other region is lost. Auto drops to 0
/// on 285/319 and resends the same bytes (a 319'd block that did land is deduplicated), and goes back to 2 once
/// the home table's replicas have all been active twice in a row. Read by INSERT tasks, changed by them and by the
/// ownership refresh: one volatile field.</summary>
internal sealed class QuorumPolicy
{
    private const int Both = 2;
    private readonly QuorumOptions _options;
    private readonly string _table;
    private readonly ILogger _logger;
    private readonly string _timeout;
    private volatile int _quorum;
    private int _healthyPolls;

    public QuorumPolicy(QuorumOptions options, string table, ILogger logger)
    {
        _options = options;
        _table = table;
        _logger = logger;
        _quorum = options.Mode == QuorumMode.Off ? 0 : Both;
        _timeout = ((long)options.Timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The insert_quorum now in use: 2 or 0.</summary>
    public int Quorum => _quorum;

    public bool Degraded => _options.Mode == QuorumMode.Auto && _quorum == 0;

    /// <summary>Adds the quorum settings to an INSERT's.</summary>
    public void Apply(Dictionary<string, string> settings)
    {
        var quorum = _quorum;
        settings["insert_quorum"] = quorum.ToString(CultureInfo.InvariantCulture);
        if (quorum > 0) settings["insert_quorum_timeout"] = _timeout;
    }

    /// <summary>An INSERT failed: in auto mode a quorum failure degrades to 0 before the retry.</summary>
    public void Failed(Exception e)
    {
        // Not 286 ("another quorum insert has been already started", "quorum for previous write has not been satisfied
        // yet"): 18.16 takes one quorum INSERT per table at a time, so concurrent INSERTs get it while both regions are
        // fine; degrading on it left windows of unreplicated rows (measured: 52 rows missing on the other region's
        // replica at a takeover). A lost replica shows up as 285/319 and in system.replicas (Observed).
        if (_options.Mode != QuorumMode.Auto || e is not ClickHouseServerException { Code: 285 or 319 } quorum) return;
        _healthyPolls = 0;
        if (_quorum == 0) return;
        _quorum = 0;
        _logger.LogWarning("Quorum for {Table} degraded to 0 after error {Code}: the other region's replica is not answering; rows written now have one copy until it is back",
            _table, quorum.Code);
    }

    /// <summary>The home table's replicas as system.replicas reports them (the ownership refresh reads it).</summary>
    public void Observed(int active, int total)
    {
        if (_options.Mode != QuorumMode.Auto) return;
        if (active < total || total == 0)
        {
            _healthyPolls = 0;
            if (_quorum == 0) return;
            // Not waiting for a 319 (insert_quorum_timeout) to find out.
            _quorum = 0;
            _logger.LogWarning("Quorum for {Table} degraded to 0: {Active} of {Total} replicas active", _table, active, total);
            return;
        }
        if (_quorum == Both || ++_healthyPolls < 2) return;
        _quorum = Both;
        _logger.LogInformation("Quorum for {Table} back to {Quorum}: every replica is active again", _table, Both);
    }
}

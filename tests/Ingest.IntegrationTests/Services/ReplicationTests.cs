using System.Globalization;
using Ingest.LocalStack.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.IntegrationTests.Services;

/// <summary>The two-subcluster topology is real replication: subcluster a (a1, b1) through ZooKeeper a,
/// subcluster b (a2, b2) through ZooKeeper b, and a Distributed table over both.</summary>
public sealed class TwoSubclusterReplicationTests(TwoSubclusterStack fixture) : IClassFixture<TwoSubclusterStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task An_insert_on_a1_is_visible_on_its_replica_b1_in_the_other_region()
    {
        await CreateReplicatedAsync("r1");
        await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.r1 VALUES (1, 'x'), (2, 'y'), (3, 'z')");

        var onB1 = await Poll.UntilAsync(() => CountAsync(_stack.Node("b1"), "default.r1"), n => n == 3, TimeSpan.FromSeconds(15));
        Assert.Equal(3, onB1);
        // Subcluster b has its own data: nothing of subcluster a's insert is there.
        Assert.Equal(0, await CountAsync(_stack.Node("a2"), "default.r1"));
        Assert.Equal(0, await CountAsync(_stack.Node("b2"), "default.r1"));
    }

    [Fact]
    public async Task A_distributed_table_on_every_node_sees_both_subclusters()
    {
        await CreateReplicatedAsync("r2");
        await _stack.ExecuteOnAllAsync("CREATE TABLE IF NOT EXISTS default.r2_all AS default.r2 ENGINE = Distributed(ingest, default, r2)");
        await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.r2 SELECT number, 'sub-a' FROM system.numbers LIMIT 100");
        await _stack.Node("b2").Client.ExecuteAsync("INSERT INTO default.r2 SELECT number, 'sub-b' FROM system.numbers LIMIT 250");

        foreach (var node in _stack.Nodes)
        {
            var total = await Poll.UntilAsync(() => CountAsync(node, "default.r2_all"), n => n == 350, TimeSpan.FromSeconds(15));
            Assert.True(total == 350, $"{node.Name} sees {total} rows through the Distributed table, expected 350");
            var perSub = await node.Client.QueryAsync("SELECT s, count() FROM default.r2_all GROUP BY s ORDER BY s FORMAT TSV");
            Assert.Equal("sub-a\t100\nsub-b\t250\n", perSub);
        }
    }

    private Task CreateReplicatedAsync(string table) => _stack.ExecuteOnAllAsync(
        $"CREATE TABLE IF NOT EXISTS default.{table} (id UInt64, s String) " +
        $"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/default/{table}', '{{replica}}') ORDER BY id");

    internal static async Task<long> CountAsync(ClickHouseServer node, string table) =>
        long.Parse(await node.Client.ScalarAsync($"SELECT count() FROM {table}") ?? "-1", CultureInfo.InvariantCulture);
}

/// <summary>Losing a region's Keeper: its subcluster turns read-only while the other keeps accepting writes
/// (the reason for two subclusters). A stack of its own, since it breaks ZooKeeper a.</summary>
public sealed class KeeperLossTests(TwoSubclusterStack fixture) : IClassFixture<TwoSubclusterStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Killing_keeper_a_makes_subcluster_a_read_only_while_subcluster_b_accepts_inserts()
    {
        await _stack.ExecuteOnAllAsync(
            "CREATE TABLE IF NOT EXISTS default.k (id UInt64) " +
            "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/k', '{replica}') ORDER BY id");
        await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.k VALUES (1)");

        _stack.Keepers["a"].Kill();

        // The first insert may wait out operation_timeout_ms (then 999); once the session is lost, 242 at once.
        var codes = new List<int>();
        var readOnly = await Poll.UntilAsync(async () =>
        {
            try
            {
                await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.k VALUES (2)");
                codes.Add(0);
                return 0;
            }
            catch (ClickHouseServerException e)
            {
                codes.Add(e.Code);
                return e.Code;
            }
        }, code => code == 242, TimeSpan.FromSeconds(45), everyMs: 250);
        Assert.True(readOnly == 242, $"expected code 242 (table is in readonly mode) on a1, saw: {string.Join(",", codes)}");
        var e = await Assert.ThrowsAsync<ClickHouseServerException>(() => _stack.Node("b1").Client.ExecuteAsync("INSERT INTO default.k VALUES (3)"));
        Assert.True(e.IsRetryable, "242 must be classified retryable");

        // Subcluster b, on ZooKeeper b, is untouched.
        await _stack.Node("a2").Client.ExecuteAsync("INSERT INTO default.k VALUES (10), (11)");
        await _stack.Node("b2").Client.ExecuteAsync("INSERT INTO default.k VALUES (12)");
        var onB2 = await Poll.UntilAsync(() => TwoSubclusterReplicationTests.CountAsync(_stack.Node("b2"), "default.k"), n => n == 3, TimeSpan.FromSeconds(15));
        Assert.Equal(3, onB2);

        // ZooKeeper a back: subcluster a is writable again.
        await _stack.Keepers["a"].RestartAsync();
        var writable = await Poll.UntilAsync(async () =>
        {
            try
            {
                await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.k VALUES (4)");
                return true;
            }
            catch (ClickHouseServerException)
            {
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(45), everyMs: 500);
        Assert.True(writable, "a1 did not become writable after ZooKeeper a came back");
    }
}

/// <summary>Independent clusters: each region's ClickHouse has its own Keeper and shares nothing.</summary>
public sealed class IndependentTopologyTests(IndependentStack fixture) : IClassFixture<IndependentStack>
{
    private readonly LocalStack.Stack _stack = fixture.Stack;

    [Fact]
    public async Task Each_region_replicates_through_its_own_keeper_and_shares_nothing()
    {
        Assert.NotEqual(_stack.Keepers["a"].Port, _stack.Keepers["b"].Port);
        await _stack.ExecuteOnAllAsync(
            "CREATE TABLE IF NOT EXISTS default.i (id UInt64) " +
            "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/i', '{replica}') ORDER BY id");
        await _stack.Node("a1").Client.ExecuteAsync("INSERT INTO default.i VALUES (1), (2)");
        await _stack.Node("b1").Client.ExecuteAsync("INSERT INTO default.i VALUES (3)");

        Assert.Equal(2, await TwoSubclusterReplicationTests.CountAsync(_stack.Node("a1"), "default.i"));
        Assert.Equal(1, await TwoSubclusterReplicationTests.CountAsync(_stack.Node("b1"), "default.i"));
        // Each table is registered in its own region's ZooKeeper only.
        var zkA = await _stack.Node("a1").Client.QueryAsync("SELECT name FROM system.zookeeper WHERE path = '/clickhouse/tables/a/default/i/replicas' FORMAT TSV");
        Assert.Equal("a1\n", zkA);
        var zkB = await _stack.Node("b1").Client.QueryAsync("SELECT name FROM system.zookeeper WHERE path = '/clickhouse/tables/b/default/i/replicas' FORMAT TSV");
        Assert.Equal("b1\n", zkB);
    }
}

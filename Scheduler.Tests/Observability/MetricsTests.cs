using BatchScheduler.Executors.Contract;
using BatchScheduler.Observability;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Observability;

/// <summary>
/// <c>/metrics</c> on real nodes: what the coordinator decided, counted per data type and outcome;
/// the cluster gauges served from their last refresh.
/// </summary>
public abstract class MetricsTests(StorageProvider provider)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static Dictionary<string, string?> Settings(string role, string nodeId) => new()
    {
        ["Cluster:Role"] = role,
        ["Cluster:NodeId"] = nodeId,
        ["DataTypes:work:Executor"] = "scripted",
        ["DataTypes:work:Retry:MaxRetryAttempts"] = "1",
        ["DataTypes:work:Retry:Delay"] = "00:00:00.050",
        ["DataTypes:work:Retry:BackoffType"] = "Constant",
        ["DataTypes:work:Retry:UseJitter"] = "false",
        ["DataTypes:once:Executor"] = "scripted",
        ["DataTypes:once:Retry:MaxRetryAttempts"] = "0",
        ["DataTypes:paid:Executor"] = "scripted",
        ["DataTypes:paid:Vendor"] = "acme",
        ["DataTypes:paid:CreditsPerCall"] = "1",
        // Under 20 credits a node leases them one by one, so what is reserved is what was called.
        ["Vendors:acme:Credits"] = "3",
        ["Vendors:acme:Window"] = "1.00:00:00",
    };

    private static Task<TestNode> StartAsync(TestStore store, string role = "worker", string nodeId = "metrics-worker") =>
        TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(role, nodeId), s => s.AddExecutor("scripted", new ScriptedExecutor()));

    private static Task RefreshAsync(TestNode node) =>
        node.App.Services.GetRequiredService<ClusterGauges>().RefreshAsync(CancellationToken.None);

    private static async Task<List<string?>> StatesAsync(TestNode node, params (string DataType, string EntityId)[] items)
    {
        var states = new List<string?>();
        foreach (var (dataType, entityId) in items)
            states.Add((await node.ItemAsync(dataType, entityId))?.State);
        return states;
    }

    private static string Executions(string dataType, string outcome) =>
        $"batchscheduler_executions_total{{data_type=\"{dataType}\",outcome=\"{outcome}\"}}";

    private static string Items(string dataType, string state) => $"batchscheduler_items{{data_type=\"{dataType}\",state=\"{state}\"}}";

    [Fact]
    public async Task Scrape_AfterItemsSucceedFailDeadLetterAndDefer_CountsEachOutcomeByDataType()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        foreach (var id in new[] { "ok-1", "ok-2", "ok-3", "bad-1", "later-1" })
            await node.PutAsync("work", id, new { });
        await node.PutAsync("once", "bad-2", new { });
        foreach (var id in new[] { "ok-p1", "ok-p2", "ok-p3", "ok-p4" })
            await node.PutAsync("paid", id, new { });

        var expected = new Dictionary<string, double>
        {
            [Executions("work", "succeeded")] = 3,
            [Executions("work", "failed")] = 1,        // bad-1's first attempt; a retry is left
            [Executions("work", "dead_lettered")] = 1, // bad-1's second attempt
            [Executions("work", "expired")] = 0,
            [Executions("work", "deferred")] = 1,      // later-1: the executor deferred it
            [Executions("once", "succeeded")] = 0,
            [Executions("once", "failed")] = 0,
            [Executions("once", "dead_lettered")] = 1, // MaxRetryAttempts 0: the first failure dead-letters
            [Executions("paid", "succeeded")] = 3,
            [Executions("paid", "deferred")] = 1,      // the fourth found no credits left
            [Executions("paid", "dead_lettered")] = 0,
            ["batchscheduler_dead_lettered_total{data_type=\"work\"}"] = 1,
            ["batchscheduler_dead_lettered_total{data_type=\"once\"}"] = 1,
            ["batchscheduler_dead_lettered_total{data_type=\"paid\"}"] = 0,
            // Attempts whose executor was called: work 3 + 2 + 1, once 1, paid 3 (not the one without credits).
            ["batchscheduler_execution_duration_seconds_count{data_type=\"work\"}"] = 6,
            ["batchscheduler_execution_duration_seconds_count{data_type=\"once\"}"] = 1,
            ["batchscheduler_execution_duration_seconds_count{data_type=\"paid\"}"] = 3,
            ["batchscheduler_due_to_start_seconds_count{data_type=\"work\"}"] = 6,
            ["batchscheduler_due_to_start_seconds_count{data_type=\"paid\"}"] = 3,
            ["batchscheduler_due_to_start_seconds_bucket{data_type=\"work\",le=\"+Inf\"}"] = 6,
            ["batchscheduler_execution_duration_seconds_bucket{data_type=\"paid\",le=\"+Inf\"}"] = 3,
        };
        MetricsScrape scrape = null!;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                scrape = await MetricsScrape.GetAsync(node.Http);
                return expected.All(e => scrape.Value(e.Key) == e.Value);
            }, Wait, "the outcomes should be counted");
        }
        catch (TimeoutException ex)
        {
            var off = expected.Where(e => scrape.Value(e.Key) != e.Value).Select(e => $"{e.Key} = {scrape.Value(e.Key)?.ToString() ?? "absent"}, expected {e.Value}");
            throw new TimeoutException($"{ex.Message}: {string.Join("; ", off)}", ex);
        }

        Assert.All(expected, e => Assert.Equal(e.Value, scrape.Value(e.Key)));
        Assert.Equal(15, scrape.SeriesOf("batchscheduler_executions_total").Count()); // 3 data types × 5 outcomes, no other labels
        Assert.Equal(WorkItemStates.Completed, (await node.ItemAsync("work", "ok-1"))!.State);
        Assert.Equal(WorkItemStates.DeadLettered, (await node.ItemAsync("work", "bad-1"))!.State);
        Assert.Equal(WorkItemStates.Deferred, (await node.ItemAsync("work", "later-1"))!.State);
        // Buckets are cumulative and end with every attempt; the due-to-start of an item registered to run now is short.
        var buckets = scrape.SeriesOf("batchscheduler_due_to_start_seconds_bucket").Where(s => s.Contains("\"work\"", StringComparison.Ordinal))
            .Select(s => scrape.Value(s)!.Value).ToList();
        Assert.Equal(15, buckets.Count); // 14 bounds and +Inf
        Assert.Equal(buckets.Order(), buckets);
        Assert.True(scrape.Value("batchscheduler_due_to_start_seconds_bucket{data_type=\"work\",le=\"10\"}") >= 1);
        Assert.Equal("histogram", scrape.TypeOf("batchscheduler_execution_duration_seconds"));
        Assert.NotNull(scrape.Value("process_cpu_seconds_total")); // the library's process metrics come along
    }

    [Fact]
    public async Task Scrape_ClusterGauges_ServeTheLastRefreshNotTheDatabase()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store, nodeId: "metrics-gauges");
        foreach (var id in new[] { "ok-p1", "ok-p2", "ok-p3", "ok-p4" })
            await node.PutAsync("paid", id, new { });
        await node.PutAsync("work", "ok-1", new { });
        await Eventually.TrueAsync(async () =>
        {
            var states = await StatesAsync(node, ("work", "ok-1"), ("paid", "ok-p1"), ("paid", "ok-p2"), ("paid", "ok-p3"), ("paid", "ok-p4"));
            return states.Count(s => s == WorkItemStates.Completed) == 4 && states.Count(s => s == WorkItemStates.Deferred) == 1;
        }, Wait, "the items should settle: 4 completed, the paid one without credits deferred");

        await RefreshAsync(node);
        var metrics = node.App.Services.GetRequiredService<SchedulerMetrics>();
        var refreshedAt = metrics.ClusterRefreshedAt;
        var before = await MetricsScrape.GetAsync(node.Http);
        await node.PutAsync("work", "held-1", new { tier = "exclude" }); // never runs: stays never_run
        var unrefreshed = await MetricsScrape.GetAsync(node.Http);
        await RefreshAsync(node);
        var after = await MetricsScrape.GetAsync(node.Http);

        Assert.Equal(1, before.Value(Items("work", "completed")));
        Assert.Equal(3, before.Value(Items("paid", "completed")));
        Assert.Equal(1, before.Value(Items("paid", "deferred")));
        Assert.Equal(0, before.Value(Items("paid", "dead_lettered")));
        Assert.Equal(8, before.SeriesOf("batchscheduler_items").Count(s => s.Contains("\"paid\"", StringComparison.Ordinal))); // every state
        Assert.Equal(0, before.Value(Items("work", "never_run")));
        if (metrics.ClusterRefreshedAt == refreshedAt) // unless the 15 s background refresh ran in between
            Assert.Equal(0, unrefreshed.Value(Items("work", "never_run")));
        Assert.Equal(1, after.Value(Items("work", "never_run")));

        Assert.Equal(0, before.Value("batchscheduler_vendor_credits_remaining{vendor=\"acme\"}"));
        Assert.Equal(3, before.Value("batchscheduler_vendor_credits_budget{vendor=\"acme\"}"));
        Assert.Equal(1, before.Value("batchscheduler_worker_nodes_live"));
        var age = before.Value("batchscheduler_node_checkin_age_seconds{node=\"metrics-gauges\"}");
        Assert.True(age is >= 0 and < 20, $"check-in age {age}");
        Assert.True(before.Value("batchscheduler_cluster_gauges_age_seconds") is >= 0 and < 20);
    }

    [Fact]
    public async Task Scrape_ApiNode_ServesClusterGaugesAndNoExecutionsOfItsOwn()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store, role: "api", nodeId: "metrics-api");
        await node.PutAsync("work", "ok-1", new { });
        await node.PutAsync("work", "ok-2", new { });

        await RefreshAsync(node);
        var scrape = await MetricsScrape.GetAsync(node.Http);

        Assert.Equal(2, scrape.Value(Items("work", "never_run")));
        Assert.Equal(0, scrape.Value("batchscheduler_worker_nodes_live")); // it lists itself, but it is no worker
        Assert.Empty(scrape.SeriesOf("batchscheduler_executions_total"));
        Assert.Empty(scrape.SeriesOf("batchscheduler_dead_lettered_total"));
        Assert.Empty(scrape.SeriesOf("batchscheduler_execution_duration_seconds_count"));
        Assert.Equal(3, scrape.Value("batchscheduler_vendor_credits_remaining{vendor=\"acme\"}"));
        Assert.All(await StatesAsync(node, ("work", "ok-1"), ("work", "ok-2")), s => Assert.Equal(WorkItemStates.NeverRun, s)); // nothing ran here
    }
}

[Trait("Provider", "Sqlite")]
public sealed class SqliteMetricsTests() : MetricsTests(StorageProvider.Sqlite);

[Trait("Provider", "Postgres")]
public sealed class PostgresMetricsTests() : MetricsTests(StorageProvider.Postgres);

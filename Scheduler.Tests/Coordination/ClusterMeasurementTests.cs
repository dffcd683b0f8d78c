using System.Text;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// Two cluster timings on a real PostgreSQL, reported (not asserted) for docs/operations.md: how
/// soon an idle worker starts an item registered through another node, and how soon a surviving
/// worker finishes the items of a node killed mid-execution. The assertions are behaviour only
/// (every item ran, once) plus bounds that only a broken cluster can exceed.
/// </summary>
[Trait("Provider", "Postgres")]
[Collection(MeasurementCollection.Name)]
public sealed class ClusterMeasurementTests(ITestOutputHelper output)
{
    private const string Fast = "ping-idle-1s";
    private const string Slow = "ping-idle-30s";
    private const string WarmUp = "warm-up";

    [Fact]
    public async Task DueToStart_ItemsRegisteredOnAnotherNode_StartPromptly()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var api = await TestNode.StartAsync(store.Provider, store.ConnectionString, PingNode(NodeRoles.Api));

        await using (await StartIdleWorkerAsync(store, api, PingNode(NodeRoles.Worker), "idle-1s"))
        {
            var (delays, registering) = await RegisterOneAtATimeAsync(api, Fast, 200, TimeSpan.FromSeconds(60));
            Report("Cluster:IdleWaitTime 00:00:01 (default)", delays, registering);
            Assert.True(delays[^1] < TimeSpan.FromSeconds(30),
                $"every item should start within 30 s of its registration; the slowest took {delays[^1].TotalSeconds:0.000} s");
        }

        // Quartz's own default: nothing tells a sleeping worker about a trigger another node stored.
        var quartzDefault = PingNode(NodeRoles.Worker);
        quartzDefault["Cluster:IdleWaitTime"] = "00:00:30";
        await using (await StartIdleWorkerAsync(store, api, quartzDefault, "idle-30s"))
        {
            var (delays, registering) = await RegisterOneAtATimeAsync(api, Slow, 20, TimeSpan.FromSeconds(90));
            Report("Cluster:IdleWaitTime 00:00:30 (Quartz's default)", delays, registering);
            Assert.True(delays[^1] < TimeSpan.FromSeconds(60),
                $"every item should start within 60 s (twice the idle wait) of its registration; the slowest took {delays[^1].TotalSeconds:0.000} s");
        }
    }

    /// <summary>
    /// Starts a worker that has just gone idle: a warm-up item registered before it starts is what
    /// its first acquisition finds, so once that item completed the worker has found nothing more
    /// and sleeps for its idle wait. Without it, registrations racing the scheduler's first
    /// acquisition would be picked up at once and measure the start-up, not the idle wait.
    /// </summary>
    private static async Task<TestNode> StartIdleWorkerAsync(TestStore store, TestNode api, Dictionary<string, string?> settings, string warmUpId)
    {
        await api.PutAsync(WarmUp, warmUpId, new { });
        var worker = await TestNode.StartAsync(store.Provider, store.ConnectionString, settings);
        try
        {
            await worker.WaitForStateAsync(WarmUp, warmUpId, WorkItemStates.Completed);
            return worker;
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Failover_NodeKilledMidExecution_AtDefaultCheckin_ReportsSeconds()
    {
        const int items = 20;
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var recording = new RecordingExecutor();
        // Cluster:CheckinInterval is left at its default (1 s): that is what is being measured.
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = store.Provider.ToString(),
            ["Storage:ConnectionString"] = store.ConnectionString,
            ["Cluster:NodeId"] = "auto",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            // In the killed node every item hangs for a minute; in the survivor it completes at once.
            ["DataTypes:slow:Executor"] = "demo",
            ["DataTypes:slow:Demo:Duration"] = "00:01:00",
        };
        var ids = Enumerable.Range(1, items).Select(i => $"failover-{i:00}").ToList();

        await using var crashing = await NodeProcess.StartAsync(settings);
        foreach (var id in ids)
        {
            using var response = await crashing.Http.PutAsync($"/api/work-items/slow/{id}", new StringContent("{}", Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
        }
        await using (var probe = await StartSurvivorAsync(settings, recording, NodeRoles.Api))
        {
            await Eventually.TrueAsync(async () => await CountAsync(probe, "slow", WorkItemStates.InFlight) == items,
                TimeSpan.FromSeconds(30), $"all {items} items should be in flight on the node about to be killed");
        }

        // The survivor joins only now, so the killed node alone holds the items.
        await using var survivor = await StartSurvivorAsync(settings, recording, NodeRoles.Worker);
        Assert.Empty(recording.Calls);
        await crashing.KillAsync();
        var killedAt = TimeProvider.System.GetUtcNow();

        try
        {
            await Eventually.TrueAsync(async () => await CountAsync(survivor, "slow", WorkItemStates.Completed) == items,
                TimeSpan.FromSeconds(90), $"all {items} items of the killed node should be recovered and completed");
        }
        catch (TimeoutException)
        {
            output.WriteLine($"Killed node's output:\n{crashing.Output}");
            throw;
        }

        var (all, _) = await survivor.Store.ListAsync(new WorkItemQuery("slow", null, null, 1, items), CancellationToken.None);
        Assert.Equal(ids, all.Select(i => i.EntityId));
        Assert.All(all, item =>
        {
            Assert.Equal(1, recording.CallsFor(item.EntityId));
            Assert.Equal(1, item.Attempt); // recovered as the same attempt
        });
        var started = all.Select(i => i.UpdatesStart!.Value - killedAt).Order().ToList();
        var completed = all.Select(i => i.UpdatesEnd!.Value - killedAt).Order().ToList();
        output.WriteLine($"Postgres failover, Cluster:CheckinInterval 00:00:01 (default), {items} items in flight on the SIGKILLed node:");
        output.WriteLine($"  kill -> restarted on survivor: min {Seconds(started[0])}, median {Seconds(Percentile(started, 0.5))}, max {Seconds(started[^1])}");
        output.WriteLine($"  kill -> completed on survivor: min {Seconds(completed[0])}, median {Seconds(Percentile(completed, 0.5))}, max {Seconds(completed[^1])}");
    }

    /// <summary>
    /// Registers <paramref name="count"/> items one PUT at a time through <paramref name="api"/>, waits
    /// until all completed, and returns each item's registration-to-start delay, sorted, and how
    /// long the registrations took.
    /// </summary>
    private static async Task<(List<TimeSpan> Delays, TimeSpan Registering)> RegisterOneAtATimeAsync(TestNode api, string dataType, int count, TimeSpan timeout)
    {
        var registeredAt = new Dictionary<string, DateTimeOffset>();
        for (var i = 0; i < count; i++)
        {
            var id = $"e-{i:000}";
            registeredAt[id] = TimeProvider.System.GetUtcNow();
            await api.PutAsync(dataType, id, new { });
        }
        var registering = TimeProvider.System.GetUtcNow() - registeredAt["e-000"];
        await Eventually.TrueAsync(async () => await CountAsync(api, dataType, WorkItemStates.Completed) == count,
            timeout, $"all {count} {dataType} items should complete");

        var (all, _) = await api.Store.ListAsync(new WorkItemQuery(dataType, null, null, 1, count), CancellationToken.None);
        Assert.Equal(count, all.Count);
        Assert.All(all, item => Assert.Equal(1, item.Attempt));
        return (all.Select(item => item.UpdatesStart!.Value - registeredAt[item.EntityId]).Order().ToList(), registering);
    }

    private void Report(string setting, IReadOnlyList<TimeSpan> sorted, TimeSpan registering) =>
        output.WriteLine($"Postgres, worker {setting}: {sorted.Count} items registered one at a time through an api node " +
                         $"in {Seconds(registering)} ({sorted.Count / registering.TotalSeconds:0} PUT/s); " +
                         $"registration -> updates_start p50 {Seconds(Percentile(sorted, 0.5))}, p90 {Seconds(Percentile(sorted, 0.9))}, " +
                         $"p99 {Seconds(Percentile(sorted, 0.99))}, max {Seconds(sorted[^1])}");

    private static Dictionary<string, string?> PingNode(string role) => new()
    {
        ["Cluster:Role"] = role,
        ["Cluster:MaxConcurrency"] = "128", // the shipped default, not TestNode's 8
        [$"DataTypes:{Fast}:Executor"] = "noop",
        [$"DataTypes:{Slow}:Executor"] = "noop",
        [$"DataTypes:{WarmUp}:Executor"] = "noop",
    };

    private static Task<TestNode> StartSurvivorAsync(Dictionary<string, string?> settings, IWorkItemExecutor executor, string role)
    {
        var own = new Dictionary<string, string?>(settings)
        {
            ["Cluster:Role"] = role,
            ["Cluster:MaxConcurrency"] = "128",
            ["DataTypes:slow:Executor"] = "recording",
        };
        own.Remove("DataTypes:slow:Demo:Duration");
        return TestNode.StartAsync(StorageProvider.Postgres, settings["Storage:ConnectionString"]!, own, s => s.AddExecutor("recording", executor));
    }

    private static async Task<long> CountAsync(TestNode node, string dataType, string state) =>
        (await node.Store.ListAsync(new WorkItemQuery(dataType, state, null, 1, 1), CancellationToken.None)).Total;

    /// <summary>Nearest-rank percentile of an ascending list.</summary>
    private static TimeSpan Percentile(IReadOnlyList<TimeSpan> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.000} s";
}

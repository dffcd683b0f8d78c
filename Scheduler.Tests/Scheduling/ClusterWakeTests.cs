using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// Items registered through another node start at once on an idle PostgreSQL worker: the
/// registering node's NOTIFY wakes it, rather than its next idle poll.
/// </summary>
public sealed class ClusterWakeTests
{
    [Fact]
    public async Task ItemsRegisteredOnAnApiNode_StartOnAnIdleWorkerLongBeforeItsIdlePoll()
    {
        var idlePoll = TimeSpan.FromSeconds(30);
        var settings = new Dictionary<string, string?>
        {
            ["DataTypes:x:Executor"] = "noop",
            ["Cluster:IdleWaitTime"] = idlePoll.ToString(),
        };
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var worker = await TestNode.StartAsync(store.Provider, store.ConnectionString, settings);
        await using var api = await TestNode.StartAsync(store.Provider, store.ConnectionString,
            new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" });

        // One after another: each registration finds the worker idle, waiting out its 30 s poll.
        foreach (var id in new[] { "w1", "w2", "w3" })
        {
            var registered = TimeProvider.System.GetUtcNow();
            await api.PutAsync("x", id, new { });
            var item = await worker.WaitForStateAsync("x", id, WorkItemStates.Completed, idlePoll * 2);
            var delay = item.UpdatesStart!.Value - registered;
            Assert.True(delay < TimeSpan.FromSeconds(5), $"{id} started {delay.TotalSeconds:0.0} s after registration; the idle poll is {idlePoll.TotalSeconds:0} s");
        }
    }
}

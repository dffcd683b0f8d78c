using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Tests.Coordination;

/// <summary>A node that does not know an item's data type (e.g. mid rolling deploy) leaves the item for one that does.</summary>
[Trait("Provider", "Postgres")]
public sealed class UnknownDataTypeTests
{
    [Fact]
    public async Task Fire_DataTypeNotConfiguredOnThisNode_LastFiringIsRescheduledNotDropped()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using (var api = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:newtype:Executor"] = "noop",
        }))
        {
            await api.PutAsync("newtype", "e1", new { });
        }

        // A worker still on the old configuration: it knows another data type only.
        await using var old = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:other:Executor"] = "noop",
        });
        var firedAt = TimeProvider.System.GetUtcNow();

        WorkItem? item = null;
        await Eventually.TrueAsync(async () =>
        {
            item = await old.ItemAsync("newtype", "e1");
            return item?.NextRunAt is { } next && next > firedAt.AddSeconds(20);
        }, TimeSpan.FromSeconds(30), "the old node should fire the trigger and move it about 30 s ahead");

        Assert.Equal(WorkItemStates.NeverRun, item!.State);
        Assert.InRange(item.NextRunAt!.Value, firedAt.AddSeconds(20), TimeProvider.System.GetUtcNow().AddSeconds(31));
    }
}

using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Tests.Demo;

[Trait("Provider", "Sqlite")]
public sealed class DemoSeederTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["Demo:SeedItems"] = "true",
        ["Demo:ItemsPerDataType"] = "5",
        ["DataTypes:prices:Executor"] = "demo",
        ["DataTypes:prices:Cadence:fast"] = "00:01:00",
        ["DataTypes:prices:Cadence:slow"] = "01:00:00",
        ["DataTypes:prices:Demo:AlwaysFail:0"] = "broken",
    };

    [Fact]
    public async Task Start_Twice_SeedsOnceAndKeepsChangesMadeSince()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        await using (var first = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings()))
        {
            var seeded = await first.Store.ListAsync(new WorkItemQuery("prices", null, null, 1, 100), CancellationToken.None);
            Assert.Equal(6, seeded.Total); // 5 items and the always-failing one
            Assert.All(seeded.Items, i => Assert.Equal("fast", i.Tier));
            await first.PutAsync("prices", "item-001", new { tier = "slow" });
        }

        await using var second = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings());

        var after = await second.Store.ListAsync(new WorkItemQuery("prices", null, null, 1, 100), CancellationToken.None);
        Assert.Equal(6, after.Total);
        Assert.Equal("slow", (await second.ItemAsync("prices", "item-001"))!.Tier);
    }
}

using BatchScheduler.Health;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using System.Net.Http.Json;

namespace BatchScheduler.Tests.Health;

/// <summary>
/// <c>/api/health</c>'s item counts: counted afresh for every answer while counting is quick; on a store where it
/// is slow, the last count is answered at once, with the time it was read, and refreshed in the background once old.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class HealthSummaryCountsTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:t:Executor"] = "noop",
        ["DataTypes:u:Executor"] = "noop",
    };

    private static HealthQuery QueryOf(TestNode node, TimeProvider time) => new(
        node.App.Services.GetRequiredService<ConnectionFactory>(), node.App.Services.GetRequiredService<DataTypeCatalog>(),
        node.App.Services.GetRequiredService<NodeStatusQuery>(), time, NullLogger<HealthQuery>.Instance);

    private static long Total(HealthSummary summary) => summary.DataTypes.Single(d => d.DataType == "t").Total;

    [Fact]
    public async Task GetAsync_QuickCount_CountsForEveryAnswer()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings());
        var time = new FakeTimeProvider(Start);
        var health = QueryOf(node, time);
        await node.PutAsync("t", "a", new { });

        var first = await health.GetAsync(CancellationToken.None);
        await node.PutAsync("t", "b", new { });
        time.Advance(TimeSpan.FromSeconds(1));
        var second = await health.GetAsync(CancellationToken.None);

        Assert.Equal((1, 2), (Total(first), Total(second)));
        Assert.Equal((Start, Start.AddSeconds(1)), (first.CountedAt, second.CountedAt));
    }

    [Fact]
    public async Task GetAsync_SlowCount_AnswersTheLastCountUntilOld_ThenRefreshesItInTheBackground()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings());
        var time = new FakeTimeProvider(Start);
        var health = QueryOf(node, time);
        health.LiveBudget = TimeSpan.Zero; // every count is as slow as a large store's
        await node.PutAsync("t", "a", new { });

        var first = await health.GetAsync(CancellationToken.None);
        await node.PutAsync("t", "b", new { });
        time.Advance(HealthQuery.MaxAge(TimeSpan.Zero) - TimeSpan.FromSeconds(1));
        var young = await health.GetAsync(CancellationToken.None);
        Assert.Equal((1, 1, Start), (Total(first), Total(young), young.CountedAt));

        time.Advance(TimeSpan.FromSeconds(2)); // now older than its limit: answered as it is, refreshed behind the answer
        var old = await health.GetAsync(CancellationToken.None);
        Assert.Equal((1, Start), (Total(old), old.CountedAt));
        var refreshedAt = time.GetUtcNow();
        await Eventually.TrueAsync(async () => (await health.GetAsync(CancellationToken.None)).CountedAt == refreshedAt,
            TimeSpan.FromSeconds(10), "the old count should be refreshed in the background");
        Assert.Equal(2, Total(await health.GetAsync(CancellationToken.None)));
    }

    [Fact]
    public async Task CountMatchingAsync_QuickCount_IsTheListingsTotal()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings());
        var health = node.App.Services.GetRequiredService<HealthQuery>();
        foreach (var id in new[] { "a", "b", "c" })
            await node.PutAsync("t", id, new { });
        await node.PutAsync("u", "x", new { });

        Assert.Equal((4, 3, 1, 3, 0), (
            await health.CountMatchingAsync(null, null, null, CancellationToken.None),
            await health.CountMatchingAsync("t", null, null, CancellationToken.None),
            await health.CountMatchingAsync("u", WorkItemStates.NeverRun, null, CancellationToken.None),
            await health.CountMatchingAsync("t", WorkItemStates.NeverRun, null, CancellationToken.None),
            await health.CountMatchingAsync("t", WorkItemStates.Completed, null, CancellationToken.None)));
        var page = await node.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/work-items?dataType=t&pageSize=2");
        Assert.Equal(3, page.GetProperty("total").GetInt64());
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(100, 5)]
    [InlineData(400, 8)]
    [InlineData(10_000, 60)]
    public void MaxAge_IsTwentyTimesTheCount_From5To60Seconds(int countMilliseconds, int maxAgeSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(maxAgeSeconds), HealthQuery.MaxAge(TimeSpan.FromMilliseconds(countMilliseconds)));
}

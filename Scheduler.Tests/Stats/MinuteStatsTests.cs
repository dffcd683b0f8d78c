using BatchScheduler.Observability;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Stats;

/// <summary>The per-minute aggregate: attempts counted in memory, added to each node's own rows, summed per minute when read.</summary>
public sealed class MinuteStatsTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["Cluster:CheckinInterval"] = "00:00:01",
        ["DataTypes:feed:Executor"] = "noop",
        ["DataTypes:other:Executor"] = "noop",
    };

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Attempts_AreSummedPerMinuteAndDataType_AcrossFlushesAndNodes(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
        await using var first = await TestNode.StartAsync(provider, connectionString, Settings());
        await using var second = provider == StorageProvider.Postgres ? await TestNode.StartAsync(provider, connectionString, Settings()) : null;
        var a = first.App.Services.GetRequiredService<MinuteStats>();
        var b = (second ?? first).App.Services.GetRequiredService<MinuteStats>();
        var started = TimeProvider.System.GetUtcNow();

        a.Record("feed", FiringOutcome.Succeeded, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(30));
        a.Record("feed", FiringOutcome.Failed, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(50));
        await a.FlushAsync(CancellationToken.None);
        a.Record("feed", FiringOutcome.DeadLettered, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(10));
        a.Record("feed", FiringOutcome.Deferred, TimeSpan.FromSeconds(9), TimeSpan.Zero);
        b.Record("feed", FiringOutcome.Succeeded, TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(90));
        b.Record("other", FiringOutcome.Expired, TimeSpan.FromSeconds(9), TimeSpan.Zero);
        await a.FlushAsync(CancellationToken.None);
        await b.FlushAsync(CancellationToken.None);

        var rows = await first.App.Services.GetRequiredService<StatsQuery>()
            .MinutelyAsync(null, started.AddMinutes(-1), TimeProvider.System.GetUtcNow().AddMinutes(1), CancellationToken.None);
        // The records may straddle a minute boundary: sum the minutes.
        var feed = rows.Where(r => r.DataType == "feed").ToList();
        Assert.Equal(4, feed.Sum(r => r.Executions)); // the deferral ran nothing
        Assert.Equal(2, feed.Sum(r => r.Succeeded));
        Assert.Equal(2, feed.Sum(r => r.Failed));      // failed and dead-lettered attempts
        Assert.Equal(1, feed.Sum(r => r.DeadLettered));
        Assert.Equal(1, feed.Sum(r => r.Deferred));
        Assert.Equal(600, feed.Max(r => r.DelayMaxMs));
        Assert.Equal(90, feed.Max(r => r.DurationMaxMs));
        if (feed.Count == 1)
            Assert.Equal(300, feed[0].DelayAvgMs); // (100 + 300 + 200 + 600) / 4
        var other = Assert.Single(rows, r => r.DataType == "other");
        Assert.Equal((0, 1), (other.Executions, other.Expired));
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task TheBacklogSample_CountsDueTriggersPerDataType_OncePerMinuteForTheCluster(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
        await using var node = await TestNode.StartAsync(provider, connectionString, Settings());
        for (var i = 0; i < 5; i++)
            await node.PutAsync("feed", $"f{i}", new { });
        await node.PutAsync("other", "o1", new { });
        var stats = node.App.Services.GetRequiredService<MinuteStats>();
        // A minute no node has sampled yet (the node's own rounds sample the current one).
        var minute = MinuteStats.MinuteOf(TimeProvider.System.GetUtcNow().AddHours(1));

        await stats.SampleBacklogAsync(minute, CancellationToken.None);
        await node.PutAsync("feed", "f5", new { });
        await stats.SampleBacklogAsync(minute, CancellationToken.None); // claimed already: no second sample

        var at = DateTimeOffset.FromUnixTimeMilliseconds(minute);
        var rows = await node.App.Services.GetRequiredService<StatsQuery>().MinutelyAsync(null, at, at.AddMinutes(1), CancellationToken.None);
        Assert.Equal(5, Assert.Single(rows, r => r.DataType == "feed").Backlog);
        Assert.Equal(1, Assert.Single(rows, r => r.DataType == "other").Backlog);
    }
}

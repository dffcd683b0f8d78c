using BatchScheduler.Alerts;
using BatchScheduler.Observability;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Alerts;

/// <summary>The failure-rate check alerts once per episode over the threshold, from the per-minute aggregate.</summary>
public sealed class FailureRateAlertTests
{
    private static async Task<TestNode> StartAsync(SqliteTestDatabase database, WebhookReceiver receiver) =>
        await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["Alerts:WebhookUrl"] = receiver.Url,
            ["Alerts:FailureRateThreshold"] = "0.5",
            ["Alerts:FailureRateMinExecutions"] = "20",
            ["DataTypes:feed:Executor"] = "noop",
        });

    private static void Record(MinuteStats stats, string dataType, int failed, int succeeded)
    {
        for (var i = 0; i < failed; i++)
            stats.Record(dataType, FiringOutcome.Failed, TimeSpan.Zero, TimeSpan.Zero);
        for (var i = 0; i < succeeded; i++)
            stats.Record(dataType, FiringOutcome.Succeeded, TimeSpan.Zero, TimeSpan.Zero);
    }

    [Fact]
    public async Task Check_OverTheThreshold_AlertsOnceUntilTheRateRecovers_AndNeverForTypesUnderIt()
    {
        using var database = new SqliteTestDatabase();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database, receiver);
        var stats = node.App.Services.GetRequiredService<MinuteStats>();
        var monitor = node.App.Services.GetRequiredService<FailureRateMonitor>();
        Record(stats, "feed", failed: 15, succeeded: 10);     // 60 % of 25: over
        Record(stats, "steady", failed: 9, succeeded: 21);    // 30 % of 30: under the threshold
        Record(stats, "rare", failed: 10, succeeded: 0);      // 100 % of 10: under the minimum executions
        await stats.FlushAsync(CancellationToken.None);

        // The node's own minute check may have claimed it first: either way exactly one alert goes out.
        await monitor.CheckAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => Task.FromResult(receiver.Delivered("failure_rate").Any()),
            TimeSpan.FromSeconds(30), "the failure-rate alert for feed should arrive");
        Assert.Equal(0, await monitor.CheckAsync(CancellationToken.None)); // still over, already alerted

        Record(stats, "feed", failed: 0, succeeded: 100);      // 15 of 125: back under
        await stats.FlushAsync(CancellationToken.None);
        await monitor.CheckAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => Task.FromResult(receiver.Delivered("failure_rate_recovered").Any()),
            TimeSpan.FromSeconds(30), "the recovery for feed should arrive");

        // Delivery is in order, so anything the second check (or a check of steady/rare) sent would be in by now.
        Assert.Equal(["failure_rate", "failure_rate_recovered"], receiver.Requests.Select(r => r.Body.GetProperty("kind").GetString()));
        var alert = receiver.Requests.First().Body;
        Assert.Equal("feed", alert.GetProperty("dataType").GetString());
        Assert.Equal(15, alert.GetProperty("failed").GetInt32());
        Assert.Equal(25, alert.GetProperty("executions").GetInt32());
        Assert.Equal(0.6, alert.GetProperty("rate").GetDouble(), 6);
        Assert.Equal("00:15:00", alert.GetProperty("window").GetString());
        Assert.Equal(0.5, alert.GetProperty("threshold").GetDouble());
        Assert.True(alert.GetProperty("at").TryGetDateTimeOffset(out _), "at is an ISO 8601 time");
        Assert.Equal(125, receiver.Requests.Last().Body.GetProperty("executions").GetInt32());
    }

    [Fact]
    public async Task Check_EveryTypeUnderTheThreshold_SendsNothing()
    {
        using var database = new SqliteTestDatabase();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database, receiver);
        var stats = node.App.Services.GetRequiredService<MinuteStats>();
        Record(stats, "feed", failed: 12, succeeded: 13);     // 48 %
        await stats.FlushAsync(CancellationToken.None);

        Assert.Equal(0, await node.App.Services.GetRequiredService<FailureRateMonitor>().CheckAsync(CancellationToken.None));
        Assert.Empty(receiver.Requests);
    }
}

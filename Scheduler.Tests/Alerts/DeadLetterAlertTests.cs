using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Alerts;

/// <summary>A dead-lettered item POSTs one <c>dead_lettered</c> alert to the webhook, retried until the webhook takes it.</summary>
public sealed class DeadLetterAlertTests
{
    private readonly RecordingExecutor _failing = new() { Failing = true };

    private Task<TestNode> StartAsync(SqliteTestDatabase database, WebhookReceiver receiver) =>
        TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, new Dictionary<string, string?>
        {
            ["Alerts:WebhookUrl"] = receiver.Url,
            ["DataTypes:doomed:Executor"] = "failing",
            ["DataTypes:doomed:Retry:MaxRetryAttempts"] = "0",
        }, s => s.AddExecutor("failing", _failing));

    [Fact]
    public async Task DeadLetter_SendsExactlyOneAlert_WithTheItemsFields()
    {
        using var database = new SqliteTestDatabase();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database, receiver);

        await node.PutAsync("doomed", "first", new { });
        await node.WaitForStateAsync("doomed", "first", WorkItemStates.DeadLettered);
        // The sender delivers in order: once the second item's alert is in, any duplicate of the first would be too.
        await node.PutAsync("doomed", "second", new { });
        await Eventually.TrueAsync(() => Task.FromResult(receiver.Delivered("dead_lettered").Any(b => b.GetProperty("entityId").GetString() == "second")),
            TimeSpan.FromSeconds(30), "the second item's dead-letter alert should arrive");

        var alert = Assert.Single(receiver.Delivered("dead_lettered"), b => b.GetProperty("entityId").GetString() == "first");
        Assert.Equal("doomed", alert.GetProperty("dataType").GetString());
        Assert.Equal(1, alert.GetProperty("attempt").GetInt32());
        Assert.Contains("Recorded failure for first", alert.GetProperty("error").GetString());
        Assert.Equal(node.App.Services.GetRequiredService<NodeIdentity>().Id, alert.GetProperty("nodeId").GetString());
        var item = await node.ItemAsync("doomed", "first");
        Assert.True(alert.GetProperty("at").GetDateTimeOffset() >= item!.UpdatesStart, "the alert's time is when the item dead-lettered");
        Assert.Equal(2, receiver.Requests.Count);
    }

    [Fact]
    public async Task DeadLetter_WebhookAnswers500First_IsRetriedAndDelivered()
    {
        using var database = new SqliteTestDatabase();
        await using var receiver = await WebhookReceiver.StartAsync(failFirst: 1);
        await using var node = await StartAsync(database, receiver);

        await node.PutAsync("doomed", "first", new { });

        await Eventually.TrueAsync(() => Task.FromResult(receiver.Delivered("dead_lettered").Any()),
            TimeSpan.FromSeconds(30), "the alert should be delivered on the retry");
        var requests = receiver.Requests.ToArray();
        Assert.Equal([500, 200], requests.Select(r => r.Status));
        Assert.All(requests, r => Assert.Equal("first", r.Body.GetProperty("entityId").GetString()));
        Assert.Equal(requests[0].Body.GetRawText(), requests[1].Body.GetRawText());
    }
}

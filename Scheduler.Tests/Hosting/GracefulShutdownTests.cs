using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Failures;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Hosting;

/// <summary>SIGTERM: stop taking work, finish or hand back running items, leave the cluster cleanly.</summary>
[Trait("Provider", "Postgres")]
public sealed class GracefulShutdownTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["DataTypes:x:Executor"] = "work",
        ["Cluster:CheckinInterval"] = "00:00:01",
        ["Cluster:ShutdownGracePeriod"] = "00:00:01",
    };

    [Fact]
    public async Task Stop_ItemStillRunningAfterGracePeriod_IsHandedBackAndAnotherNodeCompletesIt()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var gate = new GateExecutor();
        var recording = new RecordingExecutor();
        var stopping = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(), s => s.AddExecutor("work", gate));
        var stoppingId = stopping.App.Services.GetRequiredService<NodeIdentity>().Id;
        await stopping.PutAsync("x", "long", new { });
        await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await using var survivor = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(), s => s.AddExecutor("work", recording));

        await stopping.DisposeAsync(); // StopAsync: the gate never opens, so the grace period runs out

        var item = await survivor.WaitForStateAsync("x", "long", WorkItemStates.Completed);
        Assert.Equal(1, recording.CallsFor("long"));
        Assert.Equal(1, recording.Calls.Single().Attempt); // the handed-back attempt was not counted
        var failures = await survivor.App.Services.GetRequiredService<FailureStore>().ListAsync(null, "x", "long", 1, 10, CancellationToken.None);
        Assert.Equal(0, failures.Total);
        Assert.NotNull(item.UpdatesEnd);
        Assert.False(await HasCheckinAsync(store, stoppingId), "a stopped node must not leave its check-in behind");
    }

    [Fact]
    public async Task Stop_ItemFinishingWithinGracePeriod_CompletesOnTheStoppingNode()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var gate = new GateExecutor();
        var node = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(), s => s.AddExecutor("work", gate));
        await node.PutAsync("x", "short", new { });
        await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stop = node.App.StopAsync();
        gate.Release();
        await stop;

        var item = await node.ItemAsync("x", "short");
        Assert.Equal(WorkItemStates.Completed, item!.State);
        Assert.Null(item.LastError);
        await node.DisposeAsync();
    }

    private static async Task<bool> HasCheckinAsync(TestStore store, string nodeId)
    {
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var select = new NpgsqlCommand("SELECT COUNT(*) FROM qrtz_scheduler_state WHERE instance_name = @n", connection);
        select.Parameters.AddWithValue("n", nodeId);
        return (long)(await select.ExecuteScalarAsync())! > 0;
    }
}

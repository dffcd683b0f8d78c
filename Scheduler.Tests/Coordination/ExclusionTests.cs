using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>A work item never executes on two nodes at once.</summary>
[Trait("Provider", "Postgres")]
public sealed class ExclusionTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["DataTypes:x:Executor"] = "overlap",
        ["Cluster:CheckinInterval"] = "00:00:01",
    };

    [Fact]
    public async Task RunNow_OnAnotherNodeWhileRunning_WaitsForTheRunningFiringToEnd()
    {
        var executor = new OverlapDetectingExecutor();
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var a = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(), s => s.AddExecutor("overlap", executor));
        await using var b = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings(), s => s.AddExecutor("overlap", executor));
        await a.PutAsync("x", "e1", new { });
        await executor.FirstStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var owner = (await a.ItemAsync("x", "e1"))!;

        (await b.Http.PostAsync("/api/work-items/x/e1/run", null)).EnsureSuccessStatusCode();
        // Some node has picked up the run-now firing while the first one still executes...
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await Eventually.TrueAsync(async () =>
        {
            await using var fired = new NpgsqlCommand(
                "SELECT COUNT(*) FROM qrtz_fired_triggers WHERE trigger_group = 'x' AND trigger_name = 'e1'", connection);
            return (long)(await fired.ExecuteScalarAsync())! >= 2;
        }, TimeSpan.FromSeconds(30), "the run-now firing should be acquired while the first one runs");
        // ...and does not start it.
        Assert.Equal(1, executor.Calls);
        Assert.Equal(WorkItemStates.InFlight, (await a.ItemAsync("x", "e1"))!.State);

        executor.Release();
        await Eventually.TrueAsync(() => Task.FromResult(executor.Calls == 2), TimeSpan.FromSeconds(30), "the run-now firing runs once the first has ended");
        await a.WaitForStateAsync("x", "e1", WorkItemStates.Completed);
        Assert.Equal(1, executor.MaxConcurrent);
        Assert.NotNull(owner.UpdatesStart);
    }

    [Theory]
    [InlineData(true, "other", false, false)]  // the owner checked in just now: busy
    [InlineData(false, "other", false, true)]  // the owner's check-in lapsed: may start
    [InlineData(true, "owner", false, true)]   // the owner itself, no longer running it (a lost final write): may start
    [InlineData(true, "owner", true, false)]   // the owner itself, still running it: busy
    public async Task BeginAttempt_ItemInFlight_StartsOnlyWhenNoLiveNodeRunsIt(bool ownerAlive, string starter, bool runningHere, bool expectStarted)
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var node = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:x:Executor"] = "noop",
        });
        var now = TimeProvider.System.GetUtcNow();
        await node.Store.RegisterAsync("x", [new WorkItemRegistration("e1", null, null)], now, newTriggers: null, CancellationToken.None);
        Assert.True((await node.Store.BeginAttemptAsync("x", "e1", 1, "owner", false, now, CancellationToken.None)).IsStarted);
        await using (var connection = new NpgsqlConnection(store.ConnectionString))
        {
            await connection.OpenAsync();
            var checkin = ownerAlive ? now : now.AddMinutes(-5);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO qrtz_scheduler_state (sched_name, instance_name, last_checkin_time, checkin_interval) VALUES ('BatchScheduler', 'owner', @t, 1000)", connection);
            insert.Parameters.AddWithValue("t", checkin.UtcTicks);
            await insert.ExecuteNonQueryAsync();
        }

        var second = await node.Store.BeginAttemptAsync("x", "e1", 2, starter, runningHere, now.AddSeconds(1), CancellationToken.None);

        Assert.Equal(expectStarted, second.IsStarted);
        Assert.False(second.IsGone);
        if (!expectStarted)
            Assert.Equal("owner", second.BusyNode);
        Assert.Equal(WorkItemStates.InFlight, (await node.ItemAsync("x", "e1"))!.State);
        Assert.Equal(expectStarted ? starter : "owner", await OwnerAsync(store, "e1"));
    }

    private static async Task<string?> OwnerAsync(TestStore store, string entityId)
    {
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var select = new NpgsqlCommand("SELECT node_id FROM work_items WHERE entity_id = @e", connection);
        select.Parameters.AddWithValue("e", entityId);
        return (string?)await select.ExecuteScalarAsync();
    }
}

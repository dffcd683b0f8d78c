using System.Diagnostics;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Npgsql;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Hosting;

/// <summary>
/// A node SIGKILLed mid-execution and restarted under the same <c>Cluster:NodeId</c>: its
/// predecessor's items are started again at once, by it or by the other node, not skipped as
/// "in flight on a live node" until its own slots free up.
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class PredecessorReleaseTests(ITestOutputHelper output)
{
    private const int Items = 6;

    private static Dictionary<string, string?> Settings(TestStore store, HeldCallRecorder recorder, string nodeId, int slots) => new()
    {
        ["Storage:Provider"] = store.Provider.ToString(),
        ["Storage:ConnectionString"] = store.ConnectionString,
        ["Cluster:NodeId"] = nodeId,
        ["Cluster:MaxConcurrency"] = slots.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Cluster:CheckinInterval"] = "00:00:01",
        ["Demo:SeedItems"] = "false",
        ["Serilog:MinimumLevel:Default"] = "Warning",
        ["DataTypes:slow:Executor"] = "http",
        ["DataTypes:slow:Http:Url"] = recorder.UrlFor("slow"),
        ["DataTypes:slow:Http:Timeout"] = "00:10:00",
    };

    [Fact]
    public async Task Restart_UnderTheSameNodeId_ItsPredecessorsItemsStartAgainAtOnce_OnceAtATime()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var recorder = await HeldCallRecorder.StartAsync(_ => null); // calls last until released
        await using var first = await NodeProcess.StartAsync(Settings(store, recorder, "node-a", slots: 8));
        for (var i = 0; i < Items; i++)
            (await first.Http.PutAsync($"/api/work-items/slow/item-{i}", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
                .EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Active == Items), TimeSpan.FromSeconds(30), "node-a runs every item");
        await using var other = await NodeProcess.StartAsync(Settings(store, recorder, "node-b", slots: 8));

        await first.KillAsync();
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Active == 0), TimeSpan.FromSeconds(10), "the killed node's calls drop");
        // Back under its id before the other node can see it dead (check-in 1 s + 7.5 s), with fewer
        // slots than items: the other node has to start some of them.
        var restartedAt = Stopwatch.StartNew();
        await using var restarted = await NodeProcess.StartAsync(Settings(store, recorder, "node-a", slots: 2));
        output.WriteLine($"restarted node listening {restartedAt.Elapsed.TotalSeconds:0.0} s after its start");

        await Eventually.TrueAsync(() => Task.FromResult(recorder.Active == Items), TimeSpan.FromSeconds(40),
            $"every item should be started again (running: {recorder.Active} of {Items})");
        var allRunning = restartedAt.Elapsed;
        output.WriteLine($"all {Items} items running again {allRunning.TotalSeconds:0.0} s after the restart began");
        Assert.True(allRunning < TimeSpan.FromSeconds(15), $"took {allRunning.TotalSeconds:0.0} s");
        Assert.Equal(Items, await RunningOnAsync(store, "node-b") + await RunningOnAsync(store, "node-a"));
        Assert.True(await RunningOnAsync(store, "node-b") >= Items - 2, "the other node started what the restarted one had no slot for");

        recorder.Release();
        await Eventually.TrueAsync(async () => await CountAsync(store, "SELECT count(*) FROM work_items WHERE state = 'completed'") == Items,
            TimeSpan.FromSeconds(30), "every item completes");
        await Eventually.TrueAsync(async () => await CountAsync(store, "SELECT count(*) FROM qrtz_triggers") + await CountAsync(store, "SELECT count(*) FROM qrtz_fired_triggers") == 0,
            TimeSpan.FromSeconds(30), "no trigger or firing is left to run an item again");
        for (var i = 0; i < Items; i++)
            Assert.Equal(2, recorder.CallsOf("slow", $"item-{i}").Count); // the killed run, and one more
        Assert.Equal(1, recorder.MaxConcurrentPerEntity);
    }

    private static Task<long> RunningOnAsync(TestStore store, string node) =>
        CountAsync(store, $"SELECT count(*) FROM work_items WHERE state = 'in_flight' AND node_id = '{node}'");

    private static async Task<long> CountAsync(TestStore store, string sql)
    {
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

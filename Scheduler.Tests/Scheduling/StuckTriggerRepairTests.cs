using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>Triggers Quartz left ACQUIRED with no fired-trigger row are freed; legitimate ones are not.</summary>
[Trait("Provider", "Postgres")]
public sealed class StuckTriggerRepairTests
{
    private static Dictionary<string, string?> Settings(string role) => new()
    {
        ["Cluster:Role"] = role,
        ["DataTypes:x:Executor"] = "noop",
    };

    private static async Task SetTriggerStateAsync(TestStore store, string entityId, string state, bool withFiredRow)
    {
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var update = new NpgsqlCommand("UPDATE qrtz_triggers SET trigger_state = @s WHERE trigger_group = 'x' AND trigger_name = @e", connection);
        update.Parameters.AddWithValue("s", state);
        update.Parameters.AddWithValue("e", entityId);
        Assert.Equal(1, await update.ExecuteNonQueryAsync());
        if (!withFiredRow)
            return;
        await using var fired = new NpgsqlCommand(
            """
            INSERT INTO qrtz_fired_triggers (sched_name, entry_id, trigger_name, trigger_group, instance_name, fired_time, sched_time, priority, state, is_nonconcurrent)
            VALUES ('BatchScheduler', 'entry-1', @e, 'x', 'some-node', 0, 0, 5, 'ACQUIRED', false)
            """, connection);
        fired.Parameters.AddWithValue("e", entityId);
        await fired.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Repair_AcquiredWithoutFiredRow_IsFreedButAcquiredWithRowIsLeftAlone()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var api = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings("api"));
        await api.PutAsync("x", "stuck", new { });
        await api.PutAsync("x", "legit", new { });
        await SetTriggerStateAsync(store, "stuck", "ACQUIRED", withFiredRow: false);
        await SetTriggerStateAsync(store, "legit", "ACQUIRED", withFiredRow: true);

        var freed = await api.App.Services.GetRequiredService<StuckTriggerRepair>().RepairAsync(CancellationToken.None);

        Assert.Equal(1, freed);
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var states = new NpgsqlCommand("SELECT trigger_name, trigger_state FROM qrtz_triggers WHERE trigger_group = 'x' ORDER BY trigger_name", connection);
        await using var reader = await states.ExecuteReaderAsync();
        var found = new Dictionary<string, string>();
        while (await reader.ReadAsync())
            found[reader.GetString(0)] = reader.GetString(1);
        Assert.Equal("ACQUIRED", found["legit"]);
        Assert.Equal("WAITING", found["stuck"]);
    }

    [Fact]
    public async Task WorkerStart_ItemWhoseTriggerWasLeftAcquired_Runs()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using (var api = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings("api")))
            await api.PutAsync("x", "stuck", new { });
        await SetTriggerStateAsync(store, "stuck", "ACQUIRED", withFiredRow: false);

        await using var worker = await TestNode.StartAsync(store.Provider, store.ConnectionString, Settings("worker"));

        await worker.WaitForStateAsync("x", "stuck", WorkItemStates.Completed);
    }
}

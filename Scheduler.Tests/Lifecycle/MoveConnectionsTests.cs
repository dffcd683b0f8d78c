using System.Net.Http.Json;
using BatchScheduler.Lifecycle;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// A catch-up after downtime: every late firing of a recurring item moves its trigger to one cadence from now, under
/// the item's row lock. Those moves must neither wait on each other for connections nor queue behind Quartz's
/// cluster-wide trigger lock.
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class MoveConnectionsTests
{
    private const string DataType = "late";
    private const int Items = 60;

    private static readonly Dictionary<string, string?> Settings = new()
    {
        [$"DataTypes:{DataType}:Executor"] = "noop",
        [$"DataTypes:{DataType}:Cadence:hourly"] = "01:00:00",
        [$"DataTypes:{DataType}:DefaultTier"] = "hourly",
    };

    /// <summary>
    /// A move holds its item's row on a pooled connection while it writes the item's trigger, and that write may take
    /// a second connection from the same pool. A node with more worker threads than its pool has connections, all
    /// of them moving at once, must still move them all, rather than every connection waiting for a second one that
    /// none gives back.
    /// </summary>
    [Fact]
    public async Task LateFirings_OnANodeWithMoreThreadsThanConnections_AllCatchUpAndRun()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var settings = Settings;

        // Registered on a node that runs nothing, so every item is still waiting for its first run.
        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" }))
        {
            using var response = await api.Http.PostAsJsonAsync("/api/work-items",
                new { dataType = DataType, items = Enumerable.Range(0, Items).Select(i => new { entityId = $"item-{i:D2}" }) });
            response.EnsureSuccessStatusCode();
        }
        // A day and more of downtime: each trigger fell due 30 intervals ago, so each firing is late and Quartz's
        // next firing of it is due too; the firing moves its trigger to one cadence from now, then runs the item.
        // A firing that fails instead leaves the trigger one interval on, still due: 30 of them before the item runs.
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var shift = new NpgsqlCommand(
                "UPDATE qrtz_triggers SET next_fire_time = next_fire_time - @h, start_time = start_time - @h WHERE trigger_group = @g", connection);
            shift.Parameters.AddWithValue("h", TimeSpan.FromHours(30).Ticks);
            shift.Parameters.AddWithValue("g", DataType);
            Assert.Equal(Items, await shift.ExecuteNonQueryAsync());
        }

        // Eight worker threads over a pool of four connections, which a waiter gives up on after 5 s. Quartz's own
        // firing, which leaves a late trigger's next time where it fell (set-based rounds step over missed times),
        // so every firing here is a catch-up move.
        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, $"{database.ConnectionString};Maximum Pool Size=4;Timeout=5",
            new Dictionary<string, string?>(settings) { ["Cluster:MaxConcurrency"] = "8", ["Cluster:SetBasedFiring"] = "false" });

        long ran = 0;
        var all = await Eventually.WithinAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM work_items WHERE data_type = @g AND updates_end IS NOT NULL", connection);
            count.Parameters.AddWithValue("g", DataType);
            ran = (long)(await count.ExecuteScalarAsync())!;
            return ran == Items;
        }, TimeSpan.FromSeconds(60));
        Assert.True(all, $"{ran} of {Items} late items ran; the others' firings failed waiting for a connection and their triggers moved on without them");

        // Each one's trigger is back on its cadence: due about an hour from now.
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var behind = new NpgsqlCommand("SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = @g AND next_fire_time < @soon", connection);
            behind.Parameters.AddWithValue("g", DataType);
            behind.Parameters.AddWithValue("soon", TimeProvider.System.GetUtcNow().AddMinutes(50).UtcTicks);
            Assert.Equal(0L, (long)(await behind.ExecuteScalarAsync())!);
        }
    }

    /// <summary>
    /// The catch-up moves the regular trigger's times in the row lock's transaction: it does not wait for Quartz's
    /// trigger lock (<c>qrtz_locks</c> TRIGGER_ACCESS), which every node's acquisition and every trigger Quartz
    /// stores takes in turn. Re-armed through Quartz, a catch-up after an hour down ran at 5-20 items a second.
    /// </summary>
    [Fact]
    public async Task CatchUp_OfALateRegularTrigger_DoesNotWaitForQuartzsTriggerLock()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var node = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, new Dictionary<string, string?>(Settings) { ["Cluster:Role"] = "api" });
        await node.PutAsync(DataType, "late-1", new { });
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using (var shift = new NpgsqlCommand(
            "UPDATE qrtz_triggers SET next_fire_time = next_fire_time - @h, start_time = start_time - @h WHERE trigger_group = @g", connection))
        {
            shift.Parameters.AddWithValue("h", TimeSpan.FromHours(30).Ticks);
            shift.Parameters.AddWithValue("g", DataType);
            Assert.Equal(1, await shift.ExecuteNonQueryAsync());
        }

        // Quartz's trigger lock, held as a node's acquisition holds it.
        await using var holder = new NpgsqlConnection(database.ConnectionString);
        await holder.OpenAsync();
        await using var held = await holder.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand(
            """
            INSERT INTO qrtz_locks (sched_name, lock_name) SELECT DISTINCT sched_name, 'TRIGGER_ACCESS' FROM qrtz_triggers ON CONFLICT DO NOTHING;
            SELECT COUNT(*) FROM (SELECT 1 FROM qrtz_locks WHERE lock_name = 'TRIGGER_ACCESS' FOR UPDATE) l;
            """, holder, held))
            Assert.Equal(1L, (long)(await take.ExecuteScalarAsync())!);

        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(DataType, out var dataType));
        var moved = node.App.Services.GetRequiredService<ItemLifecycle>().CatchUpAsync(dataType, "late-1", CancellationToken.None);
        var outcome = await moved.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(BeforeStart.Done, outcome);
        await held.RollbackAsync();

        await using var next = new NpgsqlCommand("SELECT next_fire_time, start_time FROM qrtz_triggers WHERE trigger_group = @g", connection);
        next.Parameters.AddWithValue("g", DataType);
        await using var reader = await next.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var due = new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero);
        Assert.InRange(due, TimeProvider.System.GetUtcNow().AddMinutes(59), TimeProvider.System.GetUtcNow().AddMinutes(61));
        Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
    }
}

using System.Net.Http.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Npgsql;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// A move holds its item's row on a pooled connection while it writes the item's trigger, and that write takes
/// a second connection from the same pool. A node with more worker threads than its pool has connections, all
/// of them moving at once (a catch-up after downtime: every late firing moves its trigger), must still move
/// them all, rather than every connection waiting for a second one that none gives back.
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class MoveConnectionsTests
{
    private const string DataType = "late";
    private const int Items = 60;

    [Fact]
    public async Task LateFirings_OnANodeWithMoreThreadsThanConnections_AllCatchUpAndRun()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var settings = new Dictionary<string, string?>
        {
            [$"DataTypes:{DataType}:Executor"] = "noop",
            [$"DataTypes:{DataType}:Cadence:hourly"] = "01:00:00",
            [$"DataTypes:{DataType}:DefaultTier"] = "hourly",
        };

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

        // Eight worker threads over a pool of four connections, which a waiter gives up on after 5 s.
        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, $"{database.ConnectionString};Maximum Pool Size=4;Timeout=5",
            new Dictionary<string, string?>(settings) { ["Cluster:MaxConcurrency"] = "8" });

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
}

using System.Collections.Concurrent;
using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// Under a backlog the stalest items run first: due order is Quartz's (next fire time), and a trigger
/// stays in that order however overdue it is (Quartz's misfire handling used to move triggers more
/// than 60 s overdue to "now", behind younger ones).
/// </summary>
public sealed class StalestFirstTests
{
    [Fact]
    public async Task ABacklogAfterDowntime_DrainsStalestFirst_AndEachItemRunsOnce()
    {
        const int items = 90;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var starts = new ConcurrentQueue<string>();
        var executor = new OrderExecutor(starts);
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            ["Cluster:MaxConcurrency"] = "2",
            ["DataTypes:feed:Executor"] = "order",
            ["DataTypes:feed:Cadence:often"] = "00:10:00",
        };
        void AddExecutor(IServiceCollection s) => s.AddExecutor("order", executor);

        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString,
            new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" }, AddExecutor))
        {
            using var response = await api.Http.PostAsJsonAsync("/api/work-items",
                new { dataType = "feed", items = Enumerable.Range(0, items).Select(i => new { entityId = $"e{i:00}" }) });
            response.EnsureSuccessStatusCode();
        }
        // The nodes were down: items are overdue from 20 minutes to 2 s, most overdue first in rank, in a
        // shuffled order of entity ids so that registration order cannot explain the result.
        var order = Enumerable.Range(0, items).OrderBy(i => (i * 37) % items).ToList();
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            var now = TimeProvider.System.GetUtcNow();
            for (var rank = 0; rank < items; rank++)
            {
                // The stalest third is more than a cadence (10 min) overdue: Quartz's fixed-rate repeat
                // would fire each again at once. The rest are due again well after the test.
                var overdue = TimeSpan.FromSeconds(rank < items / 3
                    ? 1200 - (rank * (480.0 / (items / 3 - 1)))
                    : 480 - ((rank - (items / 3)) * (478.0 / (items - (items / 3) - 1))));
                // Each ran once before: completed one cadence before it fell due, trigger re-armed from there.
                await using var command = new NpgsqlCommand(
                    """
                    UPDATE qrtz_triggers SET next_fire_time = @t, start_time = @t, description = NULL WHERE trigger_group = 'feed' AND trigger_name = @e;
                    UPDATE work_items SET state = 'completed', updates_start = @ran, updates_end = @ran WHERE data_type = 'feed' AND entity_id = @e;
                    """, connection);
                command.Parameters.AddWithValue("t", (now - overdue).UtcTicks);
                command.Parameters.AddWithValue("ran", now - overdue - TimeSpan.FromMinutes(10));
                command.Parameters.AddWithValue("e", $"e{order[rank]:00}");
                await command.ExecuteNonQueryAsync();
            }
        }
        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutor);
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutor);
        await Eventually.TrueAsync(() => Task.FromResult(starts.Count >= items), TimeSpan.FromMinutes(1), "the whole backlog runs");

        var started = starts.ToList();
        Assert.Equal(items, started.Count); // once each: no run per missed interval
        var position = started.Select((entity, i) => (entity, i)).ToDictionary(p => p.entity, p => p.i);
        var stalest = order.Take(items / 3).Select(i => position[$"e{i:00}"]).ToList();
        var freshest = order.Skip(2 * items / 3).Select(i => position[$"e{i:00}"]).ToList();
        Assert.True(stalest.Max() < freshest.Min(),
            $"every item of the stalest third starts before any of the freshest third (stalest started at positions up to {stalest.Max()}, freshest from {freshest.Min()})");
    }

    private sealed class OrderExecutor(ConcurrentQueue<string> starts) : IWorkItemExecutor
    {
        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            starts.Enqueue(context.EntityId);
            await Task.Delay(20, cancellationToken); // a backlog, not an instant drain
        }
    }
}

using System.Collections.Concurrent;
using System.Data.Common;
using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// Under a backlog the stalest items run first, never-run ones before all: due order is Quartz's
/// (next fire time), a never-run item's first firing is placed a lead early in it, and a trigger
/// stays in that order however overdue it is (Quartz's misfire handling used to move triggers more
/// than 60 s overdue to "now", behind younger ones).
/// </summary>
public sealed class StalestFirstTests
{
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ABacklogAfterDowntime_DrainsNeverRunThenStalestFirst_AndEachItemRunsOnce(StorageProvider provider)
    {
        const int items = 90, NewItems = 10;
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
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

        await using (var api = await TestNode.StartAsync(provider, connectionString,
            new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" }, AddExecutor))
        {
            using var response = await api.Http.PostAsJsonAsync("/api/work-items",
                new { dataType = "feed", items = Enumerable.Range(0, items).Select(i => new { entityId = $"e{i:00}" }) });
            response.EnsureSuccessStatusCode();
        }
        // The nodes were down: items are overdue from 20 minutes to 2 s, most overdue first in rank, in a
        // shuffled order of entity ids so that registration order cannot explain the result.
        var order = Enumerable.Range(0, items).OrderBy(i => (i * 37) % items).ToList();
        await using (var connection = provider == StorageProvider.Postgres
            ? new NpgsqlConnection(connectionString) : (DbConnection)new SqliteConnection(connectionString))
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
                await using var command = connection.CreateCommand();
                command.CommandText =
                    """
                    UPDATE qrtz_triggers SET next_fire_time = @t, start_time = @t WHERE trigger_group = 'feed' AND trigger_name = @e;
                    UPDATE work_items SET state = 'completed', updates_start = @ran, updates_end = @ran WHERE data_type = 'feed' AND entity_id = @e;
                    """;
                Add(command, "@t", (now - overdue).UtcTicks);
                Add(command, "@ran", now - overdue - TimeSpan.FromMinutes(10));
                Add(command, "@e", $"e{order[rank]:00}");
                Assert.Equal(2, await command.ExecuteNonQueryAsync());
            }
        }
        // New items arrive during the backlog, registered after every other item fell due: never run,
        // they come ahead of every item that has.
        await using (var api = await TestNode.StartAsync(provider, connectionString,
            new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" }, AddExecutor))
        {
            using var response = await api.Http.PostAsJsonAsync("/api/work-items",
                new { dataType = "feed", items = Enumerable.Range(0, NewItems).Select(i => new { entityId = $"new{i}" }) });
            response.EnsureSuccessStatusCode();
            var item = await api.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/work-items/feed/new0");
            var nextRunAt = item.GetProperty("nextRunAt").GetDateTimeOffset();
            Assert.True((nextRunAt - TimeProvider.System.GetUtcNow()).Duration() < TimeSpan.FromMinutes(1),
                $"nextRunAt {nextRunAt:O} shows when it is due, not the early place that orders it");
        }
        // Two workers on PostgreSQL; SQLite runs one node.
        await using var first = await TestNode.StartAsync(provider, connectionString, settings, AddExecutor);
        await using var second = provider == StorageProvider.Postgres
            ? await TestNode.StartAsync(provider, connectionString, settings, AddExecutor) : null;
        await Eventually.TrueAsync(() => Task.FromResult(starts.Count >= items + NewItems), TimeSpan.FromMinutes(1), "the whole backlog runs");

        var started = starts.ToList();
        Assert.Equal(items + NewItems, started.Count); // once each: no run per missed interval
        var position = started.Select((entity, i) => (entity, i)).ToDictionary(p => p.entity, p => p.i);
        // Never-run first: each starts within the first NewItems + 4 (two nodes acquire two at a time).
        Assert.All(Enumerable.Range(0, NewItems), i => Assert.True(position[$"new{i}"] < NewItems + 4,
            $"new{i} started at position {position[$"new{i}"]} of {started.Count}"));
        var stalest = order.Take(items / 3).Select(i => position[$"e{i:00}"]).ToList();
        var freshest = order.Skip(2 * items / 3).Select(i => position[$"e{i:00}"]).ToList();
        Assert.True(stalest.Max() < freshest.Min(),
            $"every item of the stalest third starts before any of the freshest third (stalest started at positions up to {stalest.Max()}, freshest from {freshest.Min()})");
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
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

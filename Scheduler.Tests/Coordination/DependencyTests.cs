using System.Collections.Concurrent;
using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// <c>DependsOn</c> on a real PostgreSQL with two worker nodes: an observations item never starts
/// before the prices item of the same entity has completed, and runs after each time it does.
/// </summary>
public sealed class DependencyTests
{
    [Fact]
    public async Task DependentItems_NeverStartBeforeTheirUpstreamCompletes_AndRunAfterEachCompletion()
    {
        const int entities = 8;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var log = new ConcurrentQueue<(string DataType, string EntityId, string Event, DateTimeOffset At)>();
        var prices = new LoggingExecutor("prices", log, TimeSpan.FromMilliseconds(300));
        var observations = new LoggingExecutor("observations", log, TimeSpan.Zero);
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            ["DataTypes:prices:Executor"] = "prices",
            ["DataTypes:prices:Cadence:often"] = "00:00:03",
            ["DataTypes:observations:Executor"] = "observations",
            ["DataTypes:observations:Cadence:often"] = "00:00:01",
            ["DataTypes:observations:DependsOn:0"] = "prices",
        };
        void AddExecutors(IServiceCollection s) => s.AddExecutor("prices", prices).AddExecutor("observations", observations);
        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutors);
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutors);

        // The dependents first, so they come due before their upstream items exist.
        foreach (var dataType in new[] { "observations", "prices" })
        {
            using var response = await first.Http.PostAsJsonAsync("/api/work-items",
                new { dataType, items = Enumerable.Range(0, entities).Select(i => new { entityId = $"e{i}" }) });
            response.EnsureSuccessStatusCode();
        }

        // Each entity's prices item completes at least twice; its observations item follows each time.
        await Eventually.TrueAsync(() => Task.FromResult(Enumerable.Range(0, entities).All(i =>
                log.Count(l => l is { DataType: "observations", Event: "start" } && l.EntityId == $"e{i}") >= 2)),
            TimeSpan.FromMinutes(1), "every observations item runs after two prices completions");

        foreach (var entity in Enumerable.Range(0, entities).Select(i => $"e{i}"))
        {
            var events = log.Where(l => l.EntityId == entity).OrderBy(l => l.At).ToList();
            var priceEnds = events.Where(e => e is { DataType: "prices", Event: "end" }).Select(e => e.At).ToList();
            var observationStarts = events.Where(e => e is { DataType: "observations", Event: "start" }).Select(e => e.At).ToList();
            // Never before: each observations run starts after a prices run completed, and no two
            // observations runs share one prices completion.
            for (var i = 0; i < observationStarts.Count; i++)
            {
                var completionsBefore = priceEnds.Count(end => end < observationStarts[i]);
                Assert.True(completionsBefore >= i + 1,
                    $"{entity}: observations run {i + 1} started at {observationStarts[i]:O} after only {completionsBefore} prices completions; events: "
                    + string.Join(", ", events.Select(e => $"{e.DataType} {e.Event} {e.At:HH:mm:ss.fff}")));
            }
        }
    }

    [Fact]
    public async Task AnItemRegisteredAfterItsUpstreamCompleted_RunsAtOnce()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var log = new ConcurrentQueue<(string DataType, string EntityId, string Event, DateTimeOffset At)>();
        var settings = new Dictionary<string, string?>
        {
            ["DataTypes:prices:Executor"] = "prices",
            ["DataTypes:observations:Executor"] = "observations",
            ["DataTypes:observations:DependsOn:0"] = "prices",
        };
        await using var node = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings,
            s => s.AddExecutor("prices", new LoggingExecutor("prices", log, TimeSpan.Zero))
                .AddExecutor("observations", new LoggingExecutor("observations", log, TimeSpan.Zero)));

        await node.PutAsync("prices", "AAPL", new { });
        await Eventually.TrueAsync(async () => (await node.Store.GetAsync("prices", "AAPL", CancellationToken.None))?.State == WorkItemStates.Completed,
            TimeSpan.FromSeconds(30), "prices/AAPL completes");
        await node.PutAsync("observations", "AAPL", new { });

        await Eventually.TrueAsync(async () => (await node.Store.GetAsync("observations", "AAPL", CancellationToken.None))?.State == WorkItemStates.Completed,
            TimeSpan.FromSeconds(30), "observations/AAPL runs at once: its upstream has completed");
    }

    private sealed class LoggingExecutor(
        string name, ConcurrentQueue<(string, string, string, DateTimeOffset)> log, TimeSpan duration) : IWorkItemExecutor
    {
        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            log.Enqueue((name, context.EntityId, "start", TimeProvider.System.GetUtcNow()));
            if (duration > TimeSpan.Zero)
                await Task.Delay(duration, cancellationToken);
            log.Enqueue((name, context.EntityId, "end", TimeProvider.System.GetUtcNow()));
        }
    }
}

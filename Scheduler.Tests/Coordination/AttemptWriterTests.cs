using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// The coordinator's batched state writes on a real database: starts are durable before they
/// return, ends are written in the background, and an item counts as running here until its end
/// is written.
/// </summary>
public abstract class AttemptWriterTests(StorageProvider provider)
{
    private const string DataType = "x";

    private static Dictionary<string, string?> Settings => new() { [$"DataTypes:{DataType}:Executor"] = "noop" };

    [Fact]
    public async Task ConcurrentStarts_AreEachDurableAndEndsComplete()
    {
        const int items = 200;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings);
        var (writer, running, _) = Parts(node);
        // Whole milliseconds: PostgreSQL keeps microseconds, .NET ticks are finer.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var ids = Enumerable.Range(0, items).Select(i => $"e{i:000}").ToList();
        await node.Store.RegisterAsync(DataType, ids.Select(id => new WorkItemRegistration(id, null, $"{{\"n\":\"{id}\"}}")).ToList(),
            now, newTriggers: null, CancellationToken.None);

        foreach (var id in ids)
            Assert.NotNull(running.TryClaim(DataType, id, CancellationToken.None));
        var starts = await Task.WhenAll(ids.Select(id => writer.BeginAsync(new AttemptRequest(DataType, id, 1, now))));

        Assert.All(starts.Zip(ids), s =>
        {
            Assert.True(s.First.IsStarted);
            Assert.Equal($"{{\"n\":\"{s.Second}\"}}", s.First.Payload);
        });
        var page = await node.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.InFlight, null, 1, items), CancellationToken.None);
        Assert.Equal(items, page.Total);
        Assert.All(page.Items, i => Assert.Equal(now, i.UpdatesStart));

        var ended = now.AddSeconds(1);
        foreach (var (id, start) in ids.Zip(starts))
            await writer.CompleteAsync(new AttemptEnd(DataType, id, ended, start.Fence));
        await Eventually.TrueAsync(() => Task.FromResult(running.Count == 0), TimeSpan.FromSeconds(30), "every claim is released once its end is written");
        var done = await node.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, items), CancellationToken.None);
        Assert.Equal(items, done.Total);
        Assert.All(done.Items, i => Assert.Equal(ended, i.UpdatesEnd));
    }

    [Fact]
    public async Task AStartOfAnItemWithNoRow_SaysItIsGone_AndDoesNotHoldUpTheOthers()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings);
        var (writer, _, _) = Parts(node);
        var now = TimeProvider.System.GetUtcNow();
        await node.Store.RegisterAsync(DataType, [new WorkItemRegistration("mine", null, null)], now, newTriggers: null, CancellationToken.None);

        var results = await Task.WhenAll(
            writer.BeginAsync(new AttemptRequest(DataType, "mine", 1, now)),
            writer.BeginAsync(new AttemptRequest(DataType, "gone", 1, now)));

        Assert.True(results[0].IsStarted);
        Assert.True(results[1].IsGone);
    }

    private static (AttemptWriter Writer, RunningItems Running, string NodeId) Parts(TestNode node) =>
        (node.App.Services.GetRequiredService<AttemptWriter>(), node.App.Services.GetRequiredService<RunningItems>(),
            node.App.Services.GetRequiredService<NodeIdentity>().Id);
}

public sealed class SqliteAttemptWriterTests() : AttemptWriterTests(StorageProvider.Sqlite);

public sealed class PostgresAttemptWriterTests() : AttemptWriterTests(StorageProvider.Postgres)
{
    [Fact]
    public async Task AnItemCountsAsRunningUntilItsEndIsWritten_EvenWhenTheWriteIsHeldUp()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var node = await TestNode.StartAsync(StorageProvider.Postgres, store.ConnectionString,
            new Dictionary<string, string?> { ["DataTypes:x:Executor"] = "noop" });
        var writer = node.App.Services.GetRequiredService<AttemptWriter>();
        var running = node.App.Services.GetRequiredService<RunningItems>();
        var now = TimeProvider.System.GetUtcNow();
        await node.Store.RegisterAsync("x", [new WorkItemRegistration("held", null, null)], now, newTriggers: null, CancellationToken.None);
        Assert.NotNull(running.TryClaim("x", "held", CancellationToken.None));
        var held = await writer.BeginAsync(new AttemptRequest("x", "held", 1, now));
        Assert.True(held.IsStarted);

        // Another session holds the row: the end cannot be written yet.
        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM work_items WHERE entity_id = 'held' FOR UPDATE", connection, tx))
                await lockRow.ExecuteScalarAsync();
            await writer.CompleteAsync(new AttemptEnd("x", "held", now.AddSeconds(1), held.Fence));
            try
            {
                // The writer's UPDATE is waiting on the row lock: a session blocked by this one. Asked on a
                // connection of its own: within a transaction PostgreSQL keeps its first snapshot of
                // pg_stat_activity, so polling inside tx never saw a write that arrived after the first poll.
                // (By the blocker, not by query text: a pooled backend that runs an auto-prepared statement
                // can still show its previous statement while it waits.)
                await Eventually.TrueAsync(async () => await BlockedByAsync(store.ConnectionString, connection.ProcessID) > 0,
                    TimeSpan.FromSeconds(10), "the end's write should be waiting on the locked row");
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message}; sessions: {await SessionsAsync(store.ConnectionString)}", ex);
            }
            Assert.True(running.IsRunning("x", "held"));
            Assert.Equal(WorkItemStates.InFlight, (await node.ItemAsync("x", "held"))!.State);
            await tx.RollbackAsync();
        }

        await Eventually.TrueAsync(() => Task.FromResult(!running.IsRunning("x", "held")), TimeSpan.FromSeconds(10), "released once written");
        Assert.Equal(WorkItemStates.Completed, (await node.ItemAsync("x", "held"))!.State);
    }

    private static async Task<long> BlockedByAsync(string connectionString, int blockerPid)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var waiting = new NpgsqlCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND @blocker = ANY(pg_blocking_pids(pid))", connection);
        waiting.Parameters.AddWithValue("blocker", blockerPid);
        return (long)(await waiting.ExecuteScalarAsync())!;
    }

    private static async Task<string> SessionsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var sessions = new NpgsqlCommand(
            """
            SELECT string_agg(pid || ' ' || coalesce(wait_event_type, '-') || '/' || coalesce(wait_event, '-') || ' ' || state
                              || ' blocked by ' || pg_blocking_pids(pid)::text || ': ' || left(query, 60), '; ')
            FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            """, connection);
        return (string?)await sessions.ExecuteScalarAsync() ?? "none";
    }

    [Fact]
    public async Task AStartOfAnItemInFlightOnAnotherLiveNode_IsRefusedNamingThatNode()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var node = await TestNode.StartAsync(StorageProvider.Postgres, store.ConnectionString,
            new Dictionary<string, string?> { ["DataTypes:x:Executor"] = "noop" });
        await using var other = await TestNode.StartAsync(StorageProvider.Postgres, store.ConnectionString,
            new Dictionary<string, string?> { ["DataTypes:x:Executor"] = "noop" });
        var otherId = other.App.Services.GetRequiredService<NodeIdentity>().Id;
        // The guard trusts a node by its check-in, which Quartz writes shortly after the node starts.
        await Eventually.TrueAsync(async () =>
        {
            await using var connection = new NpgsqlConnection(store.ConnectionString);
            await connection.OpenAsync();
            await using var checkin = new NpgsqlCommand("SELECT count(*) FROM qrtz_scheduler_state WHERE instance_name = @id", connection);
            checkin.Parameters.AddWithValue("id", otherId);
            return (long)(await checkin.ExecuteScalarAsync())! == 1;
        }, TimeSpan.FromSeconds(30), "the other node has checked in");
        var now = TimeProvider.System.GetUtcNow();
        await node.Store.RegisterAsync("x", [new WorkItemRegistration("theirs", null, null)], now, newTriggers: null, CancellationToken.None);
        Assert.True((await other.Store.BeginAttemptAsync("x", "theirs", 1, otherId, runningHere: true, now, CancellationToken.None)).IsStarted);

        var busy = await node.App.Services.GetRequiredService<AttemptWriter>().BeginAsync(new AttemptRequest("x", "theirs", 2, now));

        Assert.False(busy.IsStarted);
        Assert.False(busy.IsGone);
        Assert.Equal(otherId, busy.BusyNode);
    }

    [Fact]
    public async Task EndsQueuedAtShutdown_AreWrittenBeforeTheNodeStops()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var node = await TestNode.StartAsync(StorageProvider.Postgres, store.ConnectionString,
            new Dictionary<string, string?> { ["DataTypes:x:Executor"] = "noop" });
        var writer = node.App.Services.GetRequiredService<AttemptWriter>();
        var running = node.App.Services.GetRequiredService<RunningItems>();
        var now = TimeProvider.System.GetUtcNow();
        var ids = Enumerable.Range(0, 50).Select(i => $"s{i}").ToList();
        await node.Store.RegisterAsync("x", ids.Select(id => new WorkItemRegistration(id, null, null)).ToList(), now, newTriggers: null, CancellationToken.None);
        var fences = new Dictionary<string, long>();
        foreach (var id in ids)
        {
            running.TryClaim("x", id, CancellationToken.None);
            var start = await writer.BeginAsync(new AttemptRequest("x", id, 1, now));
            Assert.True(start.IsStarted);
            fences[id] = start.Fence;
        }
        foreach (var id in ids)
            await writer.CompleteAsync(new AttemptEnd("x", id, now.AddSeconds(1), fences[id]));
        await node.DisposeAsync();

        await using var connection = new NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM work_items WHERE state = 'completed'", connection);
        Assert.Equal(ids.Count, (long)(await count.ExecuteScalarAsync())!);
    }
}

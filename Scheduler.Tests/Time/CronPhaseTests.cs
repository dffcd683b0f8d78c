using System.Collections.Concurrent;
using System.Data.Common;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Time;

/// <summary>
/// A cron item keeps its phase on a real node and clock, on SQLite and PostgreSQL: after a retry and after a
/// run-now its next regular run is still the expression's tick, and after downtime it runs once (not once per
/// missed tick), stalest first, and is next due at the first tick after now.
/// </summary>
public sealed class CronPhaseTests
{
    private const string DataType = "ticks";

    /// <summary>Records each start (entity, attempt, wall clock); with <see cref="FailFirst"/> the very first call fails.</summary>
    private sealed class StartLog : IWorkItemExecutor
    {
        private int _calls;

        public ConcurrentQueue<(string EntityId, int Attempt, DateTimeOffset At)> Starts { get; } = new();

        public bool FailFirst { get; init; }

        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Starts.Enqueue((context.EntityId, context.Attempt, TimeProvider.System.GetUtcNow()));
            if (Interlocked.Increment(ref _calls) == 1 && FailFirst)
                throw new InvalidOperationException($"First attempt of {context.EntityId} fails");
            return ValueTask.CompletedTask;
        }
    }

    private static async Task<WorkItem> WaitForAsync(TestNode node, string entityId, Func<WorkItem, bool> condition, string because)
    {
        WorkItem? item = null;
        var reached = await Eventually.WithinAsync(async () => (item = await node.ItemAsync(DataType, entityId)) is { } found && condition(found),
            TimeSpan.FromSeconds(30));
        Assert.True(reached, $"{because} (last seen: {item?.State}, attempt {item?.Attempt}, start {item?.UpdatesStart:O}, next {item?.NextRunAt:O}, {item?.LastError})");
        return item!;
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task RetryThenRunNow_OnACronItem_LeaveItsNextRunOnTheTick(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var executor = new StartLog { FailFirst = true };
        // Every 15 s: a retry (1 s backoff) or a run-now a second or two after a tick is far from the next
        // tick, where an interval cadence would count 15 s from them.
        var period = TimeSpan.FromSeconds(15);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, new Dictionary<string, string?>
        {
            [$"DataTypes:{DataType}:Executor"] = "first-fails",
            [$"DataTypes:{DataType}:Cadence:quarter-minute"] = "cron:0/15 * * * * ?",
            [$"DataTypes:{DataType}:Retry:MaxRetryAttempts"] = "2",
            [$"DataTypes:{DataType}:Retry:Delay"] = "00:00:01",
            [$"DataTypes:{DataType}:Retry:BackoffType"] = "Constant",
            [$"DataTypes:{DataType}:Retry:UseJitter"] = "false",
        }, s => s.AddExecutor("first-fails", executor));

        await node.PutAsync(DataType, "e1", new { tier = "quarter-minute" });
        // The first tick's attempt fails, its retry a second later succeeds.
        var retried = await WaitForAsync(node, "e1", i => i is { State: WorkItemStates.Completed, Attempt: 2 }, "the retry should succeed");
        var firstStart = executor.Starts.First().At;
        var tick = new DateTimeOffset(firstStart.UtcTicks - (firstStart.UtcTicks % period.Ticks), TimeSpan.Zero);
        Assert.True(retried.UpdatesStart >= tick + TimeSpan.FromSeconds(1), $"the retry started at {retried.UpdatesStart:O}, a backoff after the tick {tick:O}");
        Assert.Equal(tick + period, retried.NextRunAt);

        var asked = TimeProvider.System.GetUtcNow();
        using (var response = await node.Http.PostAsync($"/api/work-items/{DataType}/e1/run", null))
            response.EnsureSuccessStatusCode();
        var ranNow = await WaitForAsync(node, "e1", i => i.State == WorkItemStates.Completed && i.UpdatesStart >= asked, "the run-now should succeed");

        Assert.Equal(tick + period, ranNow.NextRunAt);
        Assert.Equal([1, 2, 1], executor.Starts.Select(s => s.Attempt));
    }

    /// <summary>
    /// The node was down for hours: each item's cron trigger (hourly) is overdue by several ticks, as Quartz's
    /// rows were left, and each item last ran at the tick before. Started with one slot, the node runs each item
    /// once, stalest first, and puts it on the first tick after now.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AfterDowntime_EachItemRunsOnceStalestFirst_AndIsNextDueAtTheFirstTickAfterNow(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var executor = new StartLog();
        var now = TimeProvider.System.GetUtcNow();
        // Hourly, half an hour away from now either way, so no tick falls due while the test runs.
        var minute = (now.Minute + 30) % 60;
        var lastTick = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, minute, 0, TimeSpan.Zero);
        if (lastTick > now)
            lastTick -= TimeSpan.FromHours(1);
        var nextTick = lastTick + TimeSpan.FromHours(1);
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:MaxConcurrency"] = "1",
            [$"DataTypes:{DataType}:Executor"] = "starts",
            [$"DataTypes:{DataType}:Cadence:hourly"] = $"cron:0 {minute} * * * ?",
            [$"DataTypes:{DataType}:TimeZone"] = "Europe/Berlin",
        };
        void AddExecutor(IServiceCollection s) => s.AddExecutor("starts", executor);
        // Missed ticks per item; registration order differs from staleness.
        var missed = new Dictionary<string, int> { ["a"] = 3, ["b"] = 1, ["c"] = 5, ["d"] = 2 };
        await using (var api = await TestNode.StartAsync(provider, store.ConnectionString,
            new Dictionary<string, string?>(settings) { ["Cluster:Role"] = "api" }, AddExecutor))
        {
            foreach (var entity in missed.Keys)
                await api.PutAsync(DataType, entity, new { tier = "hourly" });
        }
        await using (var connection = provider == StorageProvider.Postgres
            ? new NpgsqlConnection(store.ConnectionString) : (DbConnection)new SqliteConnection(store.ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var (entity, ticks) in missed)
            {
                var due = lastTick - TimeSpan.FromHours(ticks - 1);
                await using var command = connection.CreateCommand();
                command.CommandText =
                    """
                    UPDATE qrtz_triggers SET next_fire_time = @due, start_time = @due WHERE trigger_group = @dataType AND trigger_name = @entity;
                    UPDATE work_items SET state = 'completed', updates_start = @ran, updates_end = @ran WHERE data_type = @dataType AND entity_id = @entity;
                    """;
                Add(command, "@due", due.UtcTicks);
                Add(command, "@ran", due - TimeSpan.FromHours(1));
                Add(command, "@dataType", DataType);
                Add(command, "@entity", entity);
                Assert.Equal(2, await command.ExecuteNonQueryAsync());
            }
        }

        var beforeStart = TimeProvider.System.GetUtcNow();
        await using var worker = await TestNode.StartAsync(provider, store.ConnectionString, settings, AddExecutor);
        // Started since the node came up: the catch-up moves a trigger ahead before the start is written, so a
        // row marked completed by the setup can look caught up before its run.
        var caughtUp = await Eventually.WithinAsync(async () =>
        {
            foreach (var entity in missed.Keys)
            {
                if (await worker.ItemAsync(DataType, entity) is not { State: WorkItemStates.Completed, NextRunAt: { } next, UpdatesStart: { } started } || next <= TimeProvider.System.GetUtcNow() || started < beforeStart)
                    return false;
            }
            return true;
        }, TimeSpan.FromSeconds(30));

        var starts = executor.Starts.Select(s => s.EntityId).ToList();
        Assert.True(caughtUp, $"every item should run and be due again in the future; started: {string.Join(",", starts)}");
        Assert.Equal(["c", "a", "d", "b"], starts);
        foreach (var entity in missed.Keys)
            Assert.Equal(nextTick, (await worker.ItemAsync(DataType, entity))!.NextRunAt);
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}

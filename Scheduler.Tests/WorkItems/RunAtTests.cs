using System.Collections.Concurrent;
using System.Net.Http.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.WorkItems;

/// <summary>
/// <c>runAt</c> on registration (<see cref="WorkItemService.RegisterAsync(DataTypeDefinition, IReadOnlyList{WorkItemRegistration}, CancellationToken)"/>):
/// the item's first run starts no earlier, <c>nextRunAt</c> shows it, a past one is due now, a
/// large registration on PostgreSQL (Quartz rows written in bulk) keeps it, and the stored runAt
/// (<c>work_items.run_at</c>) outlives the item's trigger: a re-tier and trigger repair re-arm at it.
/// Real clock, real nodes.
/// </summary>
public sealed class RunAtTests
{
    private const string DataType = "dose-reminder";

    /// <summary>Records when each item's attempt started, by the wall clock.</summary>
    private sealed class StartTimes : IWorkItemExecutor
    {
        public ConcurrentDictionary<string, ConcurrentQueue<DateTimeOffset>> Starts { get; } = new(StringComparer.Ordinal);

        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Starts.GetOrAdd(context.EntityId, _ => new()).Enqueue(TimeProvider.System.GetUtcNow());
            return ValueTask.CompletedTask;
        }

        public int CallsFor(string entityId) => Starts.TryGetValue(entityId, out var starts) ? starts.Count : 0;
    }

    private static Dictionary<string, string?> Settings(string role) => new()
    {
        ["Cluster:Role"] = role,
        ["Cluster:CheckinInterval"] = "00:00:01",
        [$"DataTypes:{DataType}:Executor"] = "starts",
        [$"DataTypes:{DataType}:Cadence:once"] = "",
        [$"DataTypes:{DataType}:Cadence:hourly"] = "01:00:00",
        [$"DataTypes:{DataType}:DefaultTier"] = "once",
    };

    private static async Task<(TestNode Node, IAsyncDisposable Database)> StartAsync(string provider, string role, StartTimes executor)
    {
        void AddExecutor(IServiceCollection s) => s.AddExecutor("starts", executor);
        if (provider == "Postgres")
        {
            var database = await PostgresTestDatabase.CreateAsync();
            return (await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings(role), AddExecutor), database);
        }
        var file = new SqliteFile(new SqliteTestDatabase());
        return (await TestNode.StartAsync(StorageProvider.Sqlite, file.Database.ConnectionString, Settings(role), AddExecutor), file);
    }

    private sealed record SqliteFile(SqliteTestDatabase Database) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            Database.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Whether <paramref name="actual"/> is <paramref name="runAt"/> (the bulk path adds the item's position in ticks).</summary>
    private static void AssertAt(DateTimeOffset runAt, DateTimeOffset? actual, string what) =>
        Assert.True(actual >= runAt && actual < runAt.AddMilliseconds(1), $"{what}: {actual:O}, expected {runAt:O}");

    /// <summary>Whole seconds, a few ahead: what a caller writes, and enough to see an early start.</summary>
    private static DateTimeOffset SecondsAhead(int seconds)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero).AddSeconds(seconds + 1);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Put_RunAtAhead_ShownAsNextRunAtAndNeverStartedEarly(string provider)
    {
        var executor = new StartTimes();
        var (node, database) = await StartAsync(provider, NodeRoles.Worker, executor);
        await using var _ = database;
        await using var __ = node;
        var runAt = SecondsAhead(4);
        // Written with a +02:00 offset: the same instant.
        await node.PutAsync(DataType, "patient-881", new { payload = new { dose = "5 mg" }, runAt = runAt.ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-dd'T'HH:mm:sszzz") });

        Assert.Equal(runAt, (await node.ItemAsync(DataType, "patient-881"))!.NextRunAt);
        await node.WaitForStateAsync(DataType, "patient-881", WorkItemStates.Completed);
        var start = Assert.Single(executor.Starts["patient-881"]);
        Assert.True(start >= runAt, $"started at {start:O}, before its runAt {runAt:O}");
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Put_RecurringRunAtAhead_FirstRunAtItThenCadenceFromIt(string provider)
    {
        var executor = new StartTimes();
        var (node, database) = await StartAsync(provider, NodeRoles.Worker, executor);
        await using var _ = database;
        await using var __ = node;
        var runAt = SecondsAhead(3);
        await node.PutAsync(DataType, "hourly-1", new { tier = "hourly", runAt = runAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'") });

        Assert.Equal(runAt, (await node.ItemAsync(DataType, "hourly-1"))!.NextRunAt);
        var item = await node.WaitForStateAsync(DataType, "hourly-1", WorkItemStates.Completed);
        Assert.True(Assert.Single(executor.Starts["hourly-1"]) >= runAt);
        Assert.Equal(runAt + TimeSpan.FromHours(1), item.NextRunAt);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Put_PastRunAtOnCompletedRecurringItem_RunsItNow(string provider)
    {
        var executor = new StartTimes();
        var (node, database) = await StartAsync(provider, NodeRoles.Worker, executor);
        await using var _ = database;
        await using var __ = node;
        await node.PutAsync(DataType, "again", new { tier = "hourly" });
        await node.WaitForStateAsync(DataType, "again", WorkItemStates.Completed);
        Assert.Equal(1, executor.CallsFor("again"));

        // Unchanged tier: without runAt its schedule (an hour on) would stay; a past runAt is due now.
        await node.PutAsync(DataType, "again", new { tier = "hourly", runAt = "2020-01-01T00:00:00+00:00" });

        await Eventually.TrueAsync(() => Task.FromResult(executor.CallsFor("again") == 2), TimeSpan.FromSeconds(30), "a past runAt should run the item now");
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Put_RunAtOnExistingItem_MovesItsNextRun(string provider)
    {
        var (node, database) = await StartAsync(provider, NodeRoles.Api, new StartTimes());
        await using var _ = database;
        await using var __ = node;
        var first = SecondsAhead(3600);
        await node.PutAsync(DataType, "moved", new { runAt = first.ToString("O") });
        Assert.Equal(first, (await node.ItemAsync(DataType, "moved"))!.NextRunAt);

        var second = SecondsAhead(7200);
        await node.PutAsync(DataType, "moved", new { runAt = second.ToString("O") });

        Assert.Equal(second, (await node.ItemAsync(DataType, "moved"))!.NextRunAt);
    }

    /// <summary>
    /// <see cref="PostgresStatistics.MinimumRows"/> new items take PostgreSQL's one-statement path
    /// (items and Quartz rows together); an item with a runAt ahead is due at it there too, and is
    /// not placed early in the due order (which would run it at once). SQLite arms through Quartz.
    /// </summary>
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task BulkPost_ManyItems_KeepEachRunAt(string provider)
    {
        var executor = new StartTimes();
        var (node, database) = await StartAsync(provider, NodeRoles.Worker, executor);
        await using var _ = database;
        await using var __ = node;
        var soon = SecondsAhead(4);
        var later = SecondsAhead(3600);
        var count = PostgresStatistics.MinimumRows;
        var items = Enumerable.Range(0, count).Select(i => i % 2 == 0
                ? (object)new { entityId = $"later-{i:0000}", runAt = later.ToString("O") }
                : new { entityId = $"now-{i:0000}" })
            .Append(new { entityId = "soon", tier = "hourly", runAt = soon.ToString("O") }).ToList();

        using var response = await node.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items });
        response.EnsureSuccessStatusCode();

        AssertAt(soon, (await node.ItemAsync(DataType, "soon"))!.NextRunAt, "soon: nextRunAt");
        var item = await node.WaitForStateAsync(DataType, "soon", WorkItemStates.Completed);
        Assert.True(Assert.Single(executor.Starts["soon"]) >= soon);
        AssertAt(soon + TimeSpan.FromHours(1), item.NextRunAt, "soon: nextRunAt after its run");
        await node.WaitForStateAsync(DataType, $"now-{count - 1:0000}", WorkItemStates.Completed);
        for (var i = 0; i < count; i += 2)
        {
            var waiting = (await node.ItemAsync(DataType, $"later-{i:0000}"))!;
            Assert.Equal((WorkItemStates.NeverRun, 0), (waiting.State, executor.CallsFor(waiting.EntityId)));
            AssertAt(later, waiting.NextRunAt, $"{waiting.EntityId}: nextRunAt");
        }
    }

    /// <summary>The raw <c>next_fire_time</c> of the item's trigger (null: none): what Quartz fires by, with no early placement hidden.</summary>
    private static async Task<DateTimeOffset?> NextFireTimeAsync(TestNode node, string entityId)
    {
        await using var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        await using var command = connection.Command("SELECT next_fire_time FROM qrtz_triggers WHERE trigger_group = @g AND trigger_name = @n")
            .With("@g", DataType).With("@n", entityId);
        return await command.ExecuteScalarAsync() is { } ticks and not DBNull
            ? new DateTimeOffset(Convert.ToInt64(ticks, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.Zero)
            : null;
    }

    /// <summary>Deletes the item's trigger rows behind the node's back, as a lost write would leave it.</summary>
    private static async Task DeleteTriggerAsync(TestNode node, string entityId)
    {
        await using var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        foreach (var table in new[] { "qrtz_simple_triggers", "qrtz_triggers" })
        {
            await using var command = connection.Command($"DELETE FROM {table} WHERE trigger_group = @g AND trigger_name = @n").With("@g", DataType).With("@n", entityId);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
    }

    private static async Task<int> RepairAsync(TestNode node)
    {
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(DataType, out var dataType));
        return await node.App.Services.GetRequiredService<WorkItemService>().RepairTriggersAsync(dataType, CancellationToken.None);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Repair_ItemThatLostItsTriggerBeforeItsRunAt_IsReArmedAtIt_UnlessItStartedSince(string provider)
    {
        var (node, database) = await StartAsync(provider, NodeRoles.Api, new StartTimes());
        await using var _ = database;
        await using var __ = node;
        var runAt = SecondsAhead(3 * 3600);
        await node.PutAsync(DataType, "waiting", new { runAt = runAt.ToString("O") });
        // Registered again without a runAt (a payload update): the stored runAt stays.
        await node.PutAsync(DataType, "waiting", new { payload = new { dose = "10 mg" } });
        // Given the same runAt, then run by hand before it: its runAt is spent, it is back on its cadence.
        await node.PutAsync(DataType, "ran", new { tier = "hourly", runAt = runAt.ToString("O") });
        var started = await node.Store.BeginAttemptAsync(DataType, "ran", 1, "elsewhere", false, TimeProvider.System.GetUtcNow(), CancellationToken.None);
        Assert.True(await node.Store.CompleteAsync(new AttemptEnd(DataType, "ran", TimeProvider.System.GetUtcNow(), started.Fence), CancellationToken.None));
        var ended = (await node.ItemAsync(DataType, "ran"))!.UpdatesEnd!.Value; // as stored (PostgreSQL keeps microseconds)
        await DeleteTriggerAsync(node, "waiting");
        await DeleteTriggerAsync(node, "ran");

        // The node's own repair loop may get there first; either way the triggers are back where they belong.
        await RepairAsync(node);

        Assert.Equal(runAt, await NextFireTimeAsync(node, "waiting"));
        Assert.Equal(runAt, (await node.ItemAsync(DataType, "waiting"))!.NextRunAt);
        Assert.Equal(ended + TimeSpan.FromHours(1), (await node.ItemAsync(DataType, "ran"))!.NextRunAt);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task Put_NewTierWithoutRunAt_KeepsTheNextRunAtTheStoredRunAt(string provider)
    {
        var (node, database) = await StartAsync(provider, NodeRoles.Api, new StartTimes());
        await using var _ = database;
        await using var __ = node;
        var runAt = SecondsAhead(3600);
        await node.PutAsync(DataType, "retiered", new { runAt = runAt.ToString("O") });

        await node.PutAsync(DataType, "retiered", new { tier = "hourly" });

        Assert.Equal(runAt, await NextFireTimeAsync(node, "retiered"));
        Assert.Equal(runAt, (await node.ItemAsync(DataType, "retiered"))!.NextRunAt);
    }
}

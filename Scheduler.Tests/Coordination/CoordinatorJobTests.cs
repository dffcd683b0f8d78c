using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Failures;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// The coordinator's state transitions, driven through a real node on a real database: every
/// retry, dead-letter, expiry and deferral is observed in the tables the API reads.
/// </summary>
public abstract class CoordinatorJobTests(StorageProvider provider)
{
    private readonly RecordingExecutor _recording = new();
    private readonly GateExecutor _gate = new();

    private const int MaxRetryAttempts = 2;

    private Dictionary<string, string?> Settings() => new()
    {
        ["DataTypes:recorded:Executor"] = "recording",
        ["DataTypes:recorded:Retry:MaxRetryAttempts"] = MaxRetryAttempts.ToString(),
        ["DataTypes:recorded:Retry:Delay"] = "00:00:00.050",
        ["DataTypes:recorded:Retry:BackoffType"] = "Constant",
        ["DataTypes:recorded:Retry:UseJitter"] = "false",
        ["DataTypes:recurring:Executor"] = "recording",
        ["DataTypes:recurring:Cadence:hourly"] = "01:00:00",
        ["DataTypes:recurring:Cadence:daily"] = "1.00:00:00",
        ["DataTypes:recurring:Retry:Delay"] = "00:00:00.050",
        ["DataTypes:recurring:Retry:UseJitter"] = "false",
        ["DataTypes:recurring-no-retry:Executor"] = "recording",
        ["DataTypes:recurring-no-retry:Cadence:hourly"] = "01:00:00",
        ["DataTypes:recurring-no-retry:Retry:MaxRetryAttempts"] = "0",
        ["DataTypes:short-window:Executor"] = "recording",
        ["DataTypes:short-window:Expiry"] = "00:00:02",
        ["DataTypes:short-window:Retry:Delay"] = "00:00:30",
        ["DataTypes:short-window:Retry:UseJitter"] = "false",
        ["DataTypes:gated:Executor"] = "gate",
    };

    private async Task<TestNode> StartAsync(TestStore store, int maxConcurrency = 8, string role = "worker", string? nodeId = null,
        Action<Dictionary<string, string?>>? settingsToo = null, Action<IServiceCollection>? servicesToo = null)
    {
        var settings = Settings();
        settings["Cluster:MaxConcurrency"] = maxConcurrency.ToString();
        settings["Cluster:Role"] = role;
        if (nodeId is not null)
            settings["Cluster:NodeId"] = nodeId;
        settingsToo?.Invoke(settings);
        return await TestNode.StartAsync(store.Provider, store.ConnectionString, settings, s =>
        {
            s.AddExecutor("recording", _recording);
            s.AddExecutor("gate", _gate);
            servicesToo?.Invoke(s);
        });
    }

    [Fact]
    public async Task Execute_SuccessfulItem_MovesThroughInFlightToCompleted()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync("gated", "g-1", new { payload = new { n = 1 } });
        await _gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var inFlight = await node.WaitForStateAsync("gated", "g-1", WorkItemStates.InFlight);
        Assert.NotNull(inFlight.UpdatesStart);
        Assert.Null(inFlight.UpdatesEnd);
        Assert.Equal(1, inFlight.Attempt);

        _gate.Release();
        var done = await node.WaitForStateAsync("gated", "g-1", WorkItemStates.Completed);
        Assert.True(done.UpdatesEnd >= done.UpdatesStart, "updates_end must not be older than updates_start once completed");
        Assert.Null(done.NextRunAt); // one-shot: its trigger is gone, its row is not
    }

    [Fact]
    public async Task Execute_AlwaysFailing_DeadLettersAfterMaxAttemptsWithOneFailureRowPerAttempt()
    {
        _recording.Failing = true;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync("recorded", "doomed", new { });
        var item = await node.WaitForStateAsync("recorded", "doomed", WorkItemStates.DeadLettered);

        var expectedAttempts = 1 + MaxRetryAttempts;
        Assert.Equal(expectedAttempts, item.Attempt);
        Assert.Equal(expectedAttempts, _recording.CallsFor("doomed"));
        Assert.Equal(Enumerable.Range(1, expectedAttempts), _recording.Calls.Where(c => c.EntityId == "doomed").Select(c => c.Attempt));
        var failures = await node.App.Services.GetRequiredService<FailureStore>()
            .ListAsync(null, "recorded", "doomed", 1, 100, CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, expectedAttempts), failures.Items.Select(f => f.Attempt).Order());
        Assert.All(failures.Items, f => Assert.Contains("Recorded failure", f.Message));
        Assert.Contains("Dead-lettered", item.LastError);
        Assert.Null(item.NextRunAt); // no trigger left: it will not run again by itself
    }

    [Theory]
    [InlineData("recurring")]          // dead-lettered by a retry's firing (a one-off replacing the repeating trigger)
    [InlineData("recurring-no-retry")] // dead-lettered by the firing of its repeating trigger itself
    public async Task Execute_RecurringItemDeadLettered_IsLeftWithNoTrigger(string dataType)
    {
        _recording.Failing = true;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync(dataType, "stopped", new { tier = "hourly" });
        await node.WaitForStateAsync(dataType, "stopped", WorkItemStates.DeadLettered);

        // The spent one-off goes with Quartz's completion of its firing, just after the state is written.
        var scheduler = await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await Eventually.TrueAsync(async () => await scheduler.GetTrigger(new TriggerKey("stopped", dataType)) is null, TimeSpan.FromSeconds(30),
            "a dead-lettered recurring item keeps no trigger: it does not run again by itself");
        Assert.Null((await node.ItemAsync(dataType, "stopped"))!.NextRunAt);
    }

    [Fact]
    public async Task RunNow_DeadLetteredItem_RunsAgainFromAttemptOneAndCompletes()
    {
        _recording.Failing = true;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);
        await node.PutAsync("recorded", "revived", new { });
        await node.WaitForStateAsync("recorded", "revived", WorkItemStates.DeadLettered);

        _recording.Failing = false;
        using var response = await node.Http.PostAsync("/api/work-items/recorded/revived/run", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);

        var item = await node.WaitForStateAsync("recorded", "revived", WorkItemStates.Completed);
        Assert.Equal(1, item.Attempt);
        Assert.Equal(2 + MaxRetryAttempts, _recording.CallsFor("revived"));
    }

    [Theory]
    [InlineData(StoreCall.Completion)]      // Quartz's completion of the dead-lettering firing, held until the run-now is in
    [InlineData(StoreCall.TriggerDeletion)] // any trigger deletion the dead-lettering firing makes, held likewise
    public async Task RunNow_AsSoonAsTheItemReadsDeadLettered_IsNotUndoneByTheDeadLetteringFiring(StoreCall call)
    {
        // The item reads dead_lettered as soon as the coordinator has written it; the firing's own steps
        // after that must not undo a run-now taken then (once, a deletion of the item's trigger did).
        _recording.Failing = true;
        var held = new HeldStoreCall(call, new TriggerKey("undone", "recorded"), call == StoreCall.Completion ? 1 + MaxRetryAttempts : 1);
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store,
            settingsToo: s => s["Cluster:RepairInterval"] = "01:00:00", // no repair pass comes to the rescue
            servicesToo: held.Install);
        await node.PutAsync("recorded", "undone", new { });
        await node.WaitForStateAsync("recorded", "undone", WorkItemStates.DeadLettered);
        if (call == StoreCall.Completion)
            await held.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));

        _recording.Failing = false;
        using var response = await node.Http.PostAsync("/api/work-items/recorded/undone/run", null);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        held.Release();

        var item = await node.WaitForStateAsync("recorded", "undone", WorkItemStates.Completed);
        Assert.Equal(1, item.Attempt);
        Assert.Equal(2 + MaxRetryAttempts, _recording.CallsFor("undone"));
    }

    [Fact]
    public async Task Execute_RetryWouldFallPastExpiryWindow_ItemExpires()
    {
        _recording.Failing = true;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync("short-window", "late", new { });
        var item = await node.WaitForStateAsync("short-window", "late", WorkItemStates.Expired);

        Assert.Equal(1, _recording.CallsFor("late"));
        Assert.Contains("expiry", item.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Null(item.NextRunAt);
    }

    [Fact]
    public async Task Execute_LateFiringOfAnItemThatStartedSinceItFellDue_IsSkipped()
    {
        await using var store = await TestStore.CreateAsync(provider);
        // One worker thread, held by a gated item: the recurring items wait in a backlog, in due order.
        await using var node = await StartAsync(store, maxConcurrency: 1);
        await node.PutAsync("gated", "blocker", new { });
        await _gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await node.PutAsync("recurring", "ran-elsewhere", new { tier = "hourly" });
        await node.PutAsync("recurring", "after", new { tier = "hourly" });

        // Another node ran the first one after its firing fell due (as when a firing was handed out
        // before its trigger moved on), and the firing here is late.
        var since = TimeProvider.System.GetUtcNow();
        var ranElsewhere = await node.Store.BeginAttemptAsync("recurring", "ran-elsewhere", 1, "elsewhere", runningHere: true, since, CancellationToken.None);
        Assert.True(ranElsewhere.IsStarted);
        Assert.True(await node.Store.CompleteAsync(new AttemptEnd("recurring", "ran-elsewhere", since, ranElsewhere.Fence), CancellationToken.None));
        await Eventually.TrueAsync(() => Task.FromResult(TimeProvider.System.GetUtcNow() > since + BatchScheduler.Coordination.FiringAdmission.LateFiring * 2),
            TimeSpan.FromSeconds(10), "the waiting firings must be late");
        _gate.Release();

        await node.WaitForStateAsync("recurring", "after", WorkItemStates.Completed);
        Assert.Equal(0, _recording.CallsFor("ran-elsewhere"));
        Assert.Equal(1, _recording.CallsFor("after"));
    }

    [Fact]
    public async Task Execute_FiredPastExpiryWindow_ExpiresWithoutCallingTheExecutor()
    {
        await using var store = await TestStore.CreateAsync(provider);
        // One worker thread, held by a gated item: the next item waits in a backlog.
        await using var node = await StartAsync(store, maxConcurrency: 1);
        await node.PutAsync("gated", "blocker", new { });
        await _gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await node.PutAsync("short-window", "stale", new { });
        var registered = TimeProvider.System.GetUtcNow();
        await Eventually.TrueAsync(() => Task.FromResult(TimeProvider.System.GetUtcNow() > registered.AddSeconds(2.5)),
            TimeSpan.FromSeconds(10), "the 2 s expiry window must pass while the item waits in the backlog");
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync("short-window", "stale"))!.State);
        _gate.Release();

        var item = await node.WaitForStateAsync("short-window", "stale", WorkItemStates.Expired);

        Assert.Equal(0, _recording.CallsFor("stale"));
        Assert.Null(item.UpdatesStart);
    }

    [Fact]
    public async Task Execute_ExecutorDefers_ItemIsDeferredWithoutCountingAnAttemptOrFailure()
    {
        _recording.Throw = c => c.EntityId == "busy" ? new WorkItemDeferredException(TimeSpan.FromHours(1), "vendor busy") : null;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync("recorded", "busy", new { });
        var item = await node.WaitForStateAsync("recorded", "busy", WorkItemStates.Deferred);

        Assert.Equal(0, item.Attempt);
        Assert.Equal("vendor busy", item.LastError);
        Assert.InRange(item.NextRunAt!.Value, TimeProvider.System.GetUtcNow().AddMinutes(55), TimeProvider.System.GetUtcNow().AddMinutes(61));
        var failures = await node.App.Services.GetRequiredService<FailureStore>()
            .ListAsync(null, "recorded", "busy", 1, 10, CancellationToken.None);
        Assert.Equal(0, failures.Total);
    }

    [Fact]
    public async Task Execute_RecurringItemRetriedThenSucceeds_IsReArmedToItsCadence()
    {
        _recording.Throw = c => c.EntityId == "hourly-1" && c.Attempt == 1 ? new TimeoutException("first attempt times out") : null;
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);

        await node.PutAsync("recurring", "hourly-1", new { tier = "hourly" });
        var item = await node.WaitForStateAsync("recurring", "hourly-1", WorkItemStates.Completed);

        Assert.Equal(2, item.Attempt);
        Assert.NotNull(item.NextRunAt);
        Assert.InRange(item.NextRunAt!.Value, item.UpdatesEnd!.Value.AddMinutes(59), item.UpdatesEnd.Value.AddMinutes(61));
    }

    [Fact]
    public async Task Register_TierChangedToExclude_RemovesTriggerAndKeepsRow()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);
        await node.PutAsync("recurring", "tiered", new { tier = "daily" });
        await node.WaitForStateAsync("recurring", "tiered", WorkItemStates.Completed);
        Assert.NotNull((await node.ItemAsync("recurring", "tiered"))!.NextRunAt);

        await node.PutAsync("recurring", "tiered", new { tier = "exclude" });

        var item = await node.ItemAsync("recurring", "tiered");
        Assert.Equal("exclude", item!.Tier);
        Assert.Null(item.NextRunAt);
    }

    [Fact]
    public async Task Register_TierChangedAfterARun_NextRunIsLastEndPlusTheNewCadence()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);
        await node.PutAsync("recurring", "retiered", new { tier = "daily" });
        var first = await node.WaitForStateAsync("recurring", "retiered", WorkItemStates.Completed);
        Assert.InRange(first.NextRunAt!.Value, first.UpdatesStart!.Value.AddHours(23), first.UpdatesStart.Value.AddHours(25));

        await node.PutAsync("recurring", "retiered", new { tier = "hourly" });

        var item = await node.ItemAsync("recurring", "retiered");
        Assert.Equal("hourly", item!.Tier);
        Assert.Equal(1, _recording.CallsFor("retiered")); // a tier change does not run the item again now
        var expected = first.UpdatesEnd!.Value.AddHours(1);
        Assert.InRange(item.NextRunAt!.Value, expected.AddSeconds(-1), expected.AddSeconds(1));
    }

    /// <summary>Registers an item on an API-only node and then takes its trigger away, as a crash between the two writes would.</summary>
    private static async Task<TestNode> ItemWithoutTriggerAsync(TestNode apiNode, string entityId)
    {
        await apiNode.PutAsync("recorded", entityId, new { });
        var scheduler = await apiNode.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        Assert.True(await scheduler.UnscheduleJob(new TriggerKey(entityId, "recorded")));
        Assert.Null((await apiNode.ItemAsync("recorded", entityId))!.NextRunAt);
        return apiNode;
    }

    [Fact]
    public async Task Register_UnchangedItemThatLostItsTrigger_IsReArmed()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var api = await ItemWithoutTriggerAsync(await StartAsync(store, role: "api"), "orphan");

        await api.PutAsync("recorded", "orphan", new { });

        Assert.NotNull((await api.ItemAsync("recorded", "orphan"))!.NextRunAt);
    }

    [Fact]
    public async Task Begin_GuardedByAnEarlierDueTime_RefusesAnItemThatStartedSince_AsStale()
    {
        // Two late firings of one recurring item on two nodes: the second must not start it again
        // once the first has, even when its earlier read of the row saw no start.
        await using var store = await TestStore.CreateAsync(provider);
        await using var api = await StartAsync(store, role: "api");
        await api.PutAsync("recorded", "guarded", new { });
        var due = TimeProvider.System.GetUtcNow();
        var first = await api.Store.BeginAttemptAsync("recorded", "guarded", 1, "node-a", false, due.AddSeconds(1), CancellationToken.None, notStartedSince: due);
        Assert.True(first.IsStarted);
        Assert.True(await api.Store.CompleteAsync(new AttemptEnd("recorded", "guarded", due.AddSeconds(2), first.Fence), CancellationToken.None));

        var second = await api.Store.BeginAttemptAsync("recorded", "guarded", 1, "node-b", false, due.AddSeconds(3), CancellationToken.None, notStartedSince: due);

        Assert.True(second.IsStale, $"started {second.IsStarted}, busy on {second.BusyNode}, gone {second.IsGone}");
        Assert.Equal(due.AddSeconds(1).ToUnixTimeMilliseconds(), second.LastStart?.ToUnixTimeMilliseconds()); // the first start, for the log
        Assert.True((await api.Store.BeginAttemptAsync("recorded", "guarded", 1, "node-b", false, due.AddSeconds(4), CancellationToken.None)).IsStarted);
    }

    [Fact]
    public async Task Register_UnchangedItemInFlightWithoutTrigger_IsNotReArmed()
    {
        // Between Quartz completing a one-shot firing (its trigger deleted) and the attempt's end being
        // written, the item is in flight without a trigger; re-arming it then ran it a second time.
        await using var store = await TestStore.CreateAsync(provider);
        await using var api = await ItemWithoutTriggerAsync(await StartAsync(store, role: "api"), "finishing");
        var start = await api.Store.BeginAttemptAsync("recorded", "finishing", 1, "some-node", false, TimeProvider.System.GetUtcNow(), CancellationToken.None);
        Assert.True(start.IsStarted);

        await api.PutAsync("recorded", "finishing", new { });

        var item = (await api.ItemAsync("recorded", "finishing"))!;
        Assert.Equal(WorkItemStates.InFlight, item.State);
        Assert.Null(item.NextRunAt);
    }

    [Fact]
    public async Task Start_ItemThatLostItsTrigger_IsReArmedAndRuns()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await (await ItemWithoutTriggerAsync(await StartAsync(store, role: "api"), "orphan")).DisposeAsync();

        await using var worker = await StartAsync(store);

        await worker.WaitForStateAsync("recorded", "orphan", WorkItemStates.Completed);
        Assert.Equal(1, _recording.CallsFor("orphan"));
    }

    [Theory]
    [InlineData("dead-node")]     // its node died and nothing recovered it
    [InlineData("restarted-node")] // this node, after a restart: its last run's final write was lost
    public async Task Start_ItemLeftInFlightWithoutTrigger_IsReArmedAndRuns(string owner)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using (var api = await ItemWithoutTriggerAsync(await StartAsync(store, role: "api"), "lost-write"))
        {
            var start = await api.Store.BeginAttemptAsync("recorded", "lost-write", 1, owner, false, TimeProvider.System.GetUtcNow(), CancellationToken.None);
            Assert.True(start.IsStarted);
        }

        await using var worker = await StartAsync(store, nodeId: "restarted-node");

        await worker.WaitForStateAsync("recorded", "lost-write", WorkItemStates.Completed);
        Assert.Equal(1, _recording.CallsFor("lost-write"));
    }

    [Fact]
    public async Task Register_SameItemsTwice_NeverDuplicates()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartAsync(store);
        var body = new { dataType = "recorded", items = new[] { new { entityId = "a" }, new { entityId = "b" }, new { entityId = "c" } } };

        (await node.Http.PostAsJsonAsync("/api/work-items", body)).EnsureSuccessStatusCode();
        (await node.Http.PostAsJsonAsync("/api/work-items", body)).EnsureSuccessStatusCode();

        var page = await node.Store.ListAsync(new WorkItemQuery("recorded", null, null, 1, 100), CancellationToken.None);
        Assert.Equal(3, page.Total);
        foreach (var id in new[] { "a", "b", "c" })
            await node.WaitForStateAsync("recorded", id, WorkItemStates.Completed);
        Assert.Equal(3, _recording.Calls.Count); // an unchanged re-registration does not re-run a one-shot item
    }
}

[Trait("Provider", "Sqlite")]
public sealed class SqliteCoordinatorJobTests() : CoordinatorJobTests(StorageProvider.Sqlite);

[Trait("Provider", "Postgres")]
public sealed class PostgresCoordinatorJobTests() : CoordinatorJobTests(StorageProvider.Postgres);

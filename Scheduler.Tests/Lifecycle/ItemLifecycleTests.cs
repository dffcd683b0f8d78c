using System.Net;
using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Storage.Migrations;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// Moves of one item that meet: a run-now, a re-tier or an upstream arm taken while an attempt of the
/// item runs is applied (or refused), never overwritten by that attempt's end.
/// </summary>
public sealed class ItemLifecycleTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["DataTypes:feed:Executor"] = "scripted",
        ["DataTypes:feed:Cadence:hourly"] = "01:00:00",
        ["DataTypes:feed:Cadence:often"] = "00:00:15",
        ["DataTypes:feed:Retry:MaxRetryAttempts"] = "3",
        ["DataTypes:feed:Retry:Delay"] = "00:00:00.200",
        ["DataTypes:feed:Retry:UseJitter"] = "false",
    };

    private static async Task<(TestStore Store, TestNode Node, ScriptedExecutor Executor)> StartAsync(StorageProvider provider)
    {
        var executor = new ScriptedExecutor();
        var store = await TestStore.CreateAsync(provider);
        var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings(), s => s.AddExecutor("scripted", executor));
        return (store, node, executor);
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task RunNow_WhileARecurringItemsRetryRuns_RunsOnceTheRetryHasEnded(StorageProvider provider)
    {
        var (store, node, executor) = await StartAsync(provider);
        await using var _ = store;
        await using var __ = node;
        await node.PutAsync("feed", "k", new { tier = "hourly" });
        (await executor.NextCallAsync()).Fail();
        var retry = await executor.NextCallAsync();
        Assert.Equal(2, retry.Context.Attempt);

        using (var response = await node.Http.PostAsync("/api/work-items/feed/k/run", null))
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        // The run-now's firing finds the item busy and comes back later, as its own kind.
        await Eventually.TrueAsync(async () => (await ManualOneOffDueAsync(node, "k")) is not null, TimeSpan.FromSeconds(30),
            "the run-now is pending as a one-off");
        retry.Succeed();

        // Before: the retry's end put the hourly cadence back over the run-now, which never ran.
        var runNow = await executor.NextCallAsync();
        Assert.Equal(1, runNow.Context.Attempt);
        Assert.True(runNow.Context.Fence > retry.Context.Fence, $"fence {runNow.Context.Fence} after {retry.Context.Fence}");
        runNow.Succeed();
        var item = await node.WaitForStateAsync("feed", "k", WorkItemStates.Completed);
        Assert.True(item.NextRunAt > TimeProvider.System.GetUtcNow().AddMinutes(50), $"back on its hourly cadence: {item.NextRunAt:O}");
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ARunNowTurnedAwayAsBusy_AfterTheRunningAttemptsEndPutTheCadenceBack_ComesBackAnyway(StorageProvider provider)
    {
        // The interleaving the end-to-end test above met under load (1 run in ~10): the run-now's firing is
        // turned away as busy; before it re-schedules itself, the running retry ends, finds the run-now's
        // trigger spent (it is firing) and puts the hourly cadence back. Taken one step at a time here.
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("feed", out var feed));
        var lifecycle = node.App.Services.GetRequiredService<ItemLifecycle>();
        var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        await node.PutAsync("feed", "k", new { tier = "hourly" });
        var now = TimeProvider.System.GetUtcNow();
        var retry = await node.Store.BeginAttemptAsync("feed", "k", 2, "this-node", false, now, CancellationToken.None);
        Assert.Equal(RunNowResult.Accepted, await lifecycle.RunNowAsync(feed, "k", CancellationToken.None));
        var runNow = new FiringData(1, now, FiringKind.Manual);
        await scheduler.UnscheduleJob(new Quartz.TriggerKey("k", "feed")); // the run-now fires: its trigger is spent

        Assert.True(await lifecycle.SucceededAsync(feed, new StartedAttempt("feed", "k", new FiringData(2, now, FiringKind.Retry), retry.Fence), CancellationToken.None));
        Assert.Null(await ManualOneOffDueAsync(node, "k")); // the cadence is back
        await lifecycle.NotNowAsync("feed", "k", runNow, wasLastFiring: true, now.AddSeconds(5), CancellationToken.None);

        // Before: the turned-away run-now stood back for the cadence trigger, and never ran.
        Assert.Equal(now.AddSeconds(5), await ManualOneOffDueAsync(node, "k"));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Exclude_WhileARetryRuns_TheRetrysEndDoesNotReArmTheItem(StorageProvider provider)
    {
        var (store, node, executor) = await StartAsync(provider);
        await using var _ = store;
        await using var __ = node;
        await node.PutAsync("feed", "x", new { tier = "often" });
        (await executor.NextCallAsync()).Fail();
        var retry = await executor.NextCallAsync();

        await node.PutAsync("feed", "x", new { tier = "exclude" });
        retry.Succeed();

        // Before: the retry's end re-armed the 15 s cadence and the excluded item kept running.
        var item = await node.WaitForStateAsync("feed", "x", WorkItemStates.Completed);
        Assert.Equal(Tiers.Exclude, item.Tier);
        Assert.Null(item.NextRunAt);
        Assert.Equal(0L, await DatabaseQueries.CountAsync(store.Provider, store.ConnectionString, "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = 'feed' AND trigger_name = 'x'"));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AnAttemptsEnd_AfterTheItemStartedAgain_IsNotWritten(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:x:Executor"] = "noop",
        });
        var now = TimeProvider.System.GetUtcNow();
        await node.Store.RegisterAsync("x", [new WorkItemRegistration("e", null, null)], now, newTriggers: null, CancellationToken.None);
        var first = await node.Store.BeginAttemptAsync("x", "e", 1, "frozen-node", false, now, CancellationToken.None);
        // The frozen node's check-in lapsed: another node started the item again.
        var second = await node.Store.BeginAttemptAsync("x", "e", 1, "frozen-node", false, now.AddSeconds(10), CancellationToken.None);
        Assert.True(first.IsStarted && second.IsStarted);
        Assert.True(second.Fence > first.Fence, $"{second.Fence} > {first.Fence}");

        Assert.False(await node.Store.CompleteAsync(new AttemptEnd("x", "e", now.AddSeconds(20), first.Fence), CancellationToken.None));
        var unwritten = await node.Store.CompleteManyAsync([new AttemptEnd("x", "e", now.AddSeconds(20), first.Fence)], CancellationToken.None);

        Assert.Single(unwritten);
        var item = (await node.ItemAsync("x", "e"))!;
        Assert.Equal(WorkItemStates.InFlight, item.State);
        Assert.Null(item.UpdatesEnd);
        Assert.True(await node.Store.CompleteAsync(new AttemptEnd("x", "e", now.AddSeconds(30), second.Fence), CancellationToken.None));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ASupersededAttempt_IsCancelled_AndWritesNothing(StorageProvider provider)
    {
        var (store, node, executor) = await StartAsync(provider);
        await using var _ = store;
        await using var __ = node;
        await node.PutAsync("feed", "s", new { tier = "hourly" });
        var call = await executor.NextCallAsync();

        // As another node's start would (this one was declared dead): a newer fence, its node id.
        await DatabaseQueries.ScalarAsync(store.Provider, store.ConnectionString, "UPDATE work_items SET fence = fence + 1, node_id = 'other' WHERE data_type = 'feed' AND entity_id = 's'");

        await Eventually.TrueAsync(() => Task.FromResult(call.Token.IsCancellationRequested), TimeSpan.FromSeconds(10),
            "the superseded attempt is cancelled");
        var running = node.App.Services.GetRequiredService<RunningItems>();
        await Eventually.TrueAsync(() => Task.FromResult(!running.IsRunning("feed", "s")), TimeSpan.FromSeconds(10), "its claim is let go");
        var item = (await node.ItemAsync("feed", "s"))!;
        Assert.Equal(WorkItemStates.InFlight, item.State); // the hand-back's "deferred" did not land
        Assert.Equal(0L, await DatabaseQueries.CountAsync(store.Provider, store.ConnectionString, "SELECT COUNT(*) FROM failures WHERE entity_id = 's'"));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ADeferralForUpstreamItems_KeepsAnUpstreamArmTakenMeanwhile(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:down:Executor"] = "noop",
        });
        await node.PutAsync("down", "d", new { });
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("down", out var down));
        var lifecycle = node.App.Services.GetRequiredService<ItemLifecycle>();
        var now = TimeProvider.System.GetUtcNow();

        // The upstream item completed while the dependent's firing was deciding to wait for it.
        Assert.True(await lifecycle.ArmUpstreamAsync(down, "d", _ => Task.FromResult(true), CancellationToken.None));
        var decided = await lifecycle.DeferBeforeStartAsync(down, "d", new FiringData(1, now, FiringKind.Regular),
            now + ItemDependencies.Recheck, "Waiting for up/d to complete", CancellationToken.None);

        // Before: the deferral replaced the arm with a trigger an hour out.
        Assert.Equal(BeforeStart.Done, decided);
        var due = await UpstreamOneOffDueAsync(node, "d");
        Assert.NotNull(due);
        Assert.True(due < now.AddMinutes(1), $"still due now: {due:O}");
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task RegularTrigger_PutBackOverAOneOff_CarriesNoJobData(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        var scheduler = node.App.Services.GetRequiredService<WorkItemScheduler>();
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("feed", out var dataType));
        var now = TimeProvider.System.GetUtcNow();
        await scheduler.ScheduleOneOffAsync("feed", "k", now.AddMinutes(5), new FiringData(2, now.AddDays(-1), FiringKind.Retry), paused: false, CancellationToken.None);

        await scheduler.ArmAsync(dataType, [("k", "hourly", now.AddHours(1), false)], CancellationToken.None);

        // Quartz copies a trigger's job data into the recovery trigger of a crashed firing; the one-off's
        // (attempt 2, due a day ago) made the recovered run expire without running.
        Assert.Equal(0L, await DatabaseQueries.CountAsync(store.Provider, store.ConnectionString,
            "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = 'feed' AND trigger_name = 'k' AND job_data IS NOT NULL"));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AnExcludedItemLeftInFlightByAStoppedNode_IsDeferredByItsRecoveryFiring_NotLeftInFlight(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        await node.PutAsync("feed", "cut", new { tier = "hourly" });
        var now = TimeProvider.System.GetUtcNow();
        Assert.True((await node.Store.BeginAttemptAsync("feed", "cut", 1, "stopped-node", false, now, CancellationToken.None)).IsStarted);
        await node.PutAsync("feed", "cut", new { tier = "exclude" });
        // The stopped node's recovery firing: the start refuses the excluded item.
        var start = await node.Store.BeginAttemptAsync("feed", "cut", 1, "recovering-node", false, now.AddSeconds(20), CancellationToken.None);
        Assert.True(start.IsExcluded);

        await node.App.Services.GetRequiredService<ItemLifecycle>().NotRunnableAsync("feed", "cut", CancellationToken.None);

        var item = (await node.ItemAsync("feed", "cut"))!;
        Assert.Equal(WorkItemStates.Deferred, item.State);
        Assert.Contains("tier exclude", item.LastError, StringComparison.Ordinal);
        Assert.Null(item.NextRunAt);
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AnExcludedItemLeftInFlightWithNoFiringToResumeIt_IsDeferredByTriggerRepair(StorageProvider provider)
    {
        // Excluding a running item removes its trigger, and Quartz removes the trigger's fired rows with it:
        // when that node then dies, no recovery firing comes (found by the randomized test).
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        await node.PutAsync("feed", "cut", new { tier = "hourly" });
        await node.PutAsync("feed", "running", new { tier = "hourly" });
        var now = TimeProvider.System.GetUtcNow();
        Assert.True((await node.Store.BeginAttemptAsync("feed", "cut", 1, "stopped-node", false, now, CancellationToken.None)).IsStarted);
        Assert.True((await node.Store.BeginAttemptAsync("feed", "running", 1, node.App.Services.GetRequiredService<NodeIdentity>().Id, false, now, CancellationToken.None)).IsStarted);
        await node.PutAsync("feed", "cut", new { tier = "exclude" });
        await node.PutAsync("feed", "running", new { tier = "exclude" });
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("feed", out var feed));

        await node.App.Services.GetRequiredService<WorkItemService>().RepairTriggersAsync(feed, CancellationToken.None);

        var cut = (await node.ItemAsync("feed", "cut"))!;
        Assert.Equal(WorkItemStates.Deferred, cut.State);
        Assert.Contains("tier exclude", cut.LastError, StringComparison.Ordinal);
        Assert.Equal(WorkItemStates.InFlight, (await node.ItemAsync("feed", "running"))!.State); // its node is alive: it may still run
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ARecurringItemLeftInFlightWithNoFiringToResumeIt_IsRunAgainNowByTriggerRepair_NotAtItsNextCadence(StorageProvider provider)
    {
        // A node killed after Quartz's completion of a firing (which deletes its fired row) was written but
        // before the attempt's end was: no recovery firing comes, and the item waited for its next cadence,
        // looking in flight meanwhile (found by the randomized test: +29 to +35 s on a 30 s cadence).
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        var (feed, now) = await HourlyItemsInFlightAsync(node, ("cut", "stopped-node"), ("running", node.App.Services.GetRequiredService<NodeIdentity>().Id));

        await node.App.Services.GetRequiredService<WorkItemService>().RepairTriggersAsync(feed, CancellationToken.None);

        Assert.True((await node.ItemAsync("feed", "cut"))!.NextRunAt < TimeProvider.System.GetUtcNow().AddMinutes(1), "due now");
        Assert.True((await node.ItemAsync("feed", "running"))!.NextRunAt > now.AddMinutes(59), "its node is alive: left on its cadence");
    }

    /// <summary>A node that executes nothing (role api): the test makes each step itself.</summary>
    private static Task<TestNode> StartApiNodeAsync(TestStore store) =>
        TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:feed:Executor"] = "noop",
            ["DataTypes:feed:Cadence:hourly"] = "01:00:00",
        });

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AnItemLeftInFlightThatARecoveryTriggerStandsFor_IsNotArmedASecondTimeByTriggerRepair(StorageProvider provider)
    {
        // A node restarted under its NodeId releases its predecessor's items (node_id NULL), and its first
        // check-in replaces their fired rows with recovery triggers. Trigger repair on another node then found
        // them in flight with no fired row and armed each again, due now: two firings of one interrupted
        // attempt, racing (found by the randomized test: the loser threw, and 4 items waited 35 s for their cadence).
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await StartApiNodeAsync(store);
        var (feed, now) = await HourlyItemsInFlightAsync(node, ("recovering", "stopped-node"), ("abandoned", "stopped-node"));
        var quartz = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        // What Quartz's recovery stores (AdoJobStoreBase.StoreRecoveryTrigger): a one-shot in its own group naming the original trigger.
        await quartz.ScheduleJob(Quartz.TriggerBuilder.Create()
            .WithIdentity("recover_stopped-node_1", Quartz.SchedulerConstants.DefaultRecoveryGroup)
            .ForJob(WorkItemKeys.Job("feed"))
            .UsingJobData(Quartz.SchedulerConstants.FailedJobOriginalTriggerName, "recovering")
            .UsingJobData(Quartz.SchedulerConstants.FailedJobOriginalTriggerGroup, "feed")
            .StartAt(now.AddHours(2))
            .Build());

        await node.App.Services.GetRequiredService<WorkItemService>().RepairTriggersAsync(feed, CancellationToken.None);

        Assert.True((await node.ItemAsync("feed", "recovering"))!.NextRunAt > now.AddMinutes(59), "its recovery trigger runs it: left on its cadence");
        Assert.True((await node.ItemAsync("feed", "abandoned"))!.NextRunAt < TimeProvider.System.GetUtcNow().AddMinutes(1), "nothing resumes it: due now");
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AFailureWhoseMessageHoldsNulOrALoneSurrogate_IsRecorded_NotLeftInFlight(StorageProvider provider)
    {
        // An executor's exception message or a response body may hold anything; PostgreSQL refuses U+0000
        // (22021), so the failure row and the state were not written and the item stayed in flight.
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:feed:Executor"] = "broken",
            ["DataTypes:feed:Retry:MaxRetryAttempts"] = "0",
        }, s => s.AddExecutor("broken", new ThrowingExecutor("bad\0byte \ud800 end")));

        await node.PutAsync("feed", "k", new { });

        var item = await node.WaitForStateAsync("feed", "k", WorkItemStates.DeadLettered);
        Assert.Contains("bad\uFFFDbyte \uFFFD end", item.LastError, StringComparison.Ordinal);
        var failures = await node.App.Services.GetRequiredService<BatchScheduler.Failures.FailureStore>().ListAsync(null, "feed", "k", 1, 10, CancellationToken.None);
        Assert.Contains("bad\uFFFDbyte \uFFFD end", Assert.Single(failures.Items).Message, StringComparison.Ordinal);
    }

    private sealed class ThrowingExecutor(string message) : IWorkItemExecutor
    {
        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken) => throw new InvalidOperationException(message);
    }

    /// <summary>Hourly items of <c>feed</c> that ran (next cadence in an hour) and are in flight again, each on the node named.</summary>
    private static async Task<(DataTypeDefinition Feed, DateTimeOffset Now)> HourlyItemsInFlightAsync(TestNode node, params (string Id, string Node)[] items)
    {
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("feed", out var feed));
        var scheduler = node.App.Services.GetRequiredService<WorkItemScheduler>();
        var now = TimeProvider.System.GetUtcNow();
        foreach (var (id, owner) in items)
        {
            await node.PutAsync("feed", id, new { tier = "hourly" });
            await scheduler.ArmAsync(feed, [(id, "hourly", now.AddHours(1), false)], CancellationToken.None);
            Assert.True((await node.Store.BeginAttemptAsync("feed", id, 1, owner, false, now, CancellationToken.None)).IsStarted);
        }
        return (feed, now);
    }

    private static async Task<DateTimeOffset?> ManualOneOffDueAsync(TestNode node, string entityId) =>
        await OneOffDueAsync(node, entityId, FiringKind.Manual);

    private static async Task<DateTimeOffset?> UpstreamOneOffDueAsync(TestNode node, string entityId) =>
        await OneOffDueAsync(node, entityId, FiringKind.Upstream);

    private static async Task<DateTimeOffset?> OneOffDueAsync(TestNode node, string entityId, FiringKind kind)
    {
        var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        var trigger = await scheduler.GetTrigger(new Quartz.TriggerKey(entityId, "feed")) ?? await scheduler.GetTrigger(new Quartz.TriggerKey(entityId, "down"));
        return trigger is not null && FiringData.OneOffKindOf(trigger) == kind ? trigger.NextFireTimeUtc : null;
    }
}

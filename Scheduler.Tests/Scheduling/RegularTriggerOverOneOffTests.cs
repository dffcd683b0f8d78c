using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;
using Quartz;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// A recurring item's regular trigger put back over a one-off (after a retry, deferral or run-now)
/// fires as a regular firing: attempt 1, due at its own time, whatever job data Quartz left on its row.
/// </summary>
public sealed class RegularTriggerOverOneOffTests
{
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task RegularTrigger_ReplacingAOneOff_FiresAsARegularFiring(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:feed:Executor"] = "noop",
            ["DataTypes:feed:Cadence:hourly"] = "01:00:00",
        });
        var scheduler = node.App.Services.GetRequiredService<WorkItemScheduler>();
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet("feed", out var dataType));
        var now = TimeProvider.System.GetUtcNow();
        await scheduler.ScheduleOneOffAsync("feed", "k", now.AddMinutes(5), new FiringData(2, now.AddDays(-1), FiringKind.Retry), paused: false, CancellationToken.None);

        await scheduler.ArmAsync(dataType, [("k", "hourly", now.AddHours(1), false)], CancellationToken.None);

        var trigger = await (await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler()).GetTrigger(new TriggerKey("k", "feed"));
        Assert.NotNull(trigger);
        var firing = Substitute.For<IJobExecutionContext>();
        firing.Trigger.Returns(trigger);
        firing.ScheduledFireTimeUtc.Returns(trigger.NextFireTimeUtc);
        var data = FiringData.From(firing, now.AddHours(1));
        Assert.Equal(FiringKind.Regular, data.Kind);
        Assert.Equal(1, data.Attempt);
        Assert.Equal(trigger.NextFireTimeUtc, data.DueAt);
    }
}

/// <summary>How a recovered firing reads its due time.</summary>
public sealed class RecoveredFiringDataTests
{
    [Fact]
    public void From_RecoveredNeverRunFiringStartingAtItsEarlyPlace_IsDueALeadLater()
    {
        // Quartz's recovery at start begins the recovery trigger at the fired row's scheduled time: for a
        // never-run item, its early place in due order (30 days before it was due).
        var now = TimeProvider.System.GetUtcNow();
        var due = now.AddMinutes(-3);
        var recovery = TriggerBuilder.Create().WithIdentity("recover_x", "RECOVERING_JOBS").StartAt(due - WorkItemTriggers.NeverRunLead)
            .WithSimpleSchedule(s => s.WithRepeatCount(0)).Build();
        var firing = Substitute.For<IJobExecutionContext>();
        firing.Trigger.Returns(recovery);
        firing.Recovering.Returns(true);
        firing.ScheduledFireTimeUtc.Returns(recovery.StartTimeUtc);

        var data = FiringData.From(firing, now);

        Assert.Equal(due, data.DueAt);
        Assert.Equal(FiringKind.Regular, data.Kind);
    }

    [Fact]
    public void From_RecoveredFiringOfARecentDueTime_KeepsIt()
    {
        var now = TimeProvider.System.GetUtcNow();
        var due = now.AddMinutes(-3);
        var recovery = TriggerBuilder.Create().WithIdentity("recover_y", "RECOVERING_JOBS").StartAt(due)
            .WithSimpleSchedule(s => s.WithRepeatCount(0)).Build();
        var firing = Substitute.For<IJobExecutionContext>();
        firing.Trigger.Returns(recovery);
        firing.Recovering.Returns(true);
        firing.ScheduledFireTimeUtc.Returns(recovery.StartTimeUtc);

        Assert.Equal(due, FiringData.From(firing, now).DueAt);
    }
}

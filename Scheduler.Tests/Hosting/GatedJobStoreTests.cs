using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl.Triggers;

namespace BatchScheduler.Tests.Hosting;

/// <summary>The firing gate: a shutdown waits for every firing the store handed out, and the store fires nothing once it is closed.</summary>
public sealed class GatedJobStoreTests
{
    [Fact]
    public async Task Stop_AFiringHandedOutBeforeStandbyWhoseJobHasNotClaimedItsItem_IsWaitedFor()
    {
        // The interleaving the randomized lifecycle test met: Quartz's scheduler thread had fired a trigger
        // as the node began to stop; its job had not yet claimed the item, so nothing counted as running,
        // Quartz began its own shutdown, and the job's outcome could not move the item's trigger (Quartz
        // refuses every call once shutting down): the item was left in flight with no trigger.
        var (gate, store) = Gated(Fired(1));
        await store.AcquireNextTriggersAndFireDue(Request(1));
        var shutdown = GracefulShutdown(gate, TimeSpan.FromMinutes(5));

        var stop = shutdown.StopAsync(CancellationToken.None);

        Assert.False(stop.IsCompleted, "Quartz must stay up while a firing it handed out has not completed");
        await store.FiringComplete(Completion());
        await stop.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AcquireAndTriggersFired_OnceClosed_FireNothing()
    {
        var (gate, store) = Gated(Fired(2));
        gate.Close();

        var acquired = await store.AcquireNextTriggersAndFireDue(Request(2));
        var fired = await store.TriggersFired([Trigger(), Trigger()]);

        Assert.Empty(acquired.Due);
        Assert.Empty(acquired.Fired);
        Assert.All(fired, r => Assert.Null(r.TriggerFiredBundle)); // Quartz releases them
        Assert.Equal(2, fired.Count);
        Assert.Equal(0, gate.Firings);
    }

    [Fact]
    public async Task Firings_AreCountedFromTheCallThatFiredThemToTheirCompletion()
    {
        var (gate, store) = Gated(Fired(3));
        await store.AcquireNextTriggersAndFireDue(Request(3));
        Assert.Equal(3, gate.Firings);

        await store.FiringComplete(Completion());
        await store.TriggeredJobComplete(Trigger(), JobBuilder.Create<NoJob>().Build(), SchedulerInstruction.NoInstruction);

        Assert.Equal(1, gate.Firings);
    }

    private static (FiringGate Gate, GatedJobStore Store) Gated(TriggerAcquisitionResult result)
    {
        var inner = Substitute.For<IJobStore>();
        inner.AcquireNextTriggersAndFireDue(Arg.Any<TriggerAcquisitionRequest>(), Arg.Any<CancellationToken>()).Returns(result);
        inner.TriggersFired(Arg.Any<IReadOnlyCollection<IOperableTrigger>>(), Arg.Any<CancellationToken>()).Returns(result.Fired);
        var gate = new FiringGate();
        return (gate, new GatedJobStore(inner, gate));
    }

    private static TriggerAcquisitionResult Fired(int count)
    {
        var triggers = Enumerable.Range(0, count).Select(_ => (IOperableTrigger)Trigger()).ToList();
        return new TriggerAcquisitionResult
        {
            Due = triggers,
            Fired = triggers.Select(t => TriggerFiredResult.Fired(new TriggerFiredBundle
            {
                Trigger = t, JobDetail = JobBuilder.Create<NoJob>().Build(), Recovering = false, FireTimeUtc = DateTimeOffset.UnixEpoch,
                ScheduledFireTimeUtc = null, PreviousFireTimeUtc = null, NextFireTimeUtc = null,
            })).ToList(),
        };
    }

    private static TriggerAcquisitionRequest Request(int count) => new() { MaxCount = count, NoLaterThan = DateTimeOffset.UnixEpoch };

    private static TriggeredJobCompleteContext Completion() =>
        new() { Trigger = Trigger(), JobDetail = JobBuilder.Create<NoJob>().Build(), Instruction = SchedulerInstruction.NoInstruction };

    private static SimpleTriggerImpl Trigger() => new() { Key = new TriggerKey(Guid.NewGuid().ToString("N"), "x"), JobKey = new JobKey("x", "batch-scheduler") };

    private static GracefulShutdownService GracefulShutdown(FiringGate gate, TimeSpan grace)
    {
        var schedulers = Substitute.For<ISchedulerFactory>();
        schedulers.GetScheduler(Arg.Any<CancellationToken>()).Returns(Substitute.For<IScheduler>());
        return new GracefulShutdownService(schedulers, new RunningItems(), gate, Options.Create(new ClusterOptions { ShutdownGracePeriod = grace }),
            TimeProvider.System, NullLogger<GracefulShutdownService>.Instance);
    }

    private sealed class NoJob : IJob
    {
        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}

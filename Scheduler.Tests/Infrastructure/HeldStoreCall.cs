using BatchScheduler.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>The job store calls a <see cref="HeldStoreCall"/> can hold.</summary>
public enum StoreCall
{
    /// <summary>Quartz's bookkeeping of a finished firing.</summary>
    Completion,

    /// <summary>The deletion of a trigger (<c>UnscheduleJob</c>).</summary>
    TriggerDeletion,

    /// <summary>The storing of a trigger (<c>ScheduleTrigger</c>: a run-now's one-off, say).</summary>
    TriggerStore,
}

/// <summary>
/// Holds the job store's <paramref name="call"/> for one trigger, the <paramref name="nth"/> time it
/// is made, until released: a window between two steps of the node made as wide as a test needs.
/// </summary>
public sealed class HeldStoreCall(StoreCall call, TriggerKey trigger, int nth = 1)
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _seen;

    /// <summary>Completed once the held call has reached the store.</summary>
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _release.TrySetResult();

    /// <summary>Wraps the node's job store (the outermost decorator, after the node's own).</summary>
    public void Install(IServiceCollection services) => services.DecorateJobStore((_, inner) => new Store(inner, this));

    private async ValueTask HoldAsync(StoreCall made, TriggerKey key)
    {
        if (made != call || !key.Equals(trigger) || Interlocked.Increment(ref _seen) != nth)
            return;
        Reached.TrySetResult();
        await _release.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private sealed class Store(IJobStore inner, HeldStoreCall held) : DelegatingJobStore(inner)
    {
        public override async ValueTask FiringComplete(TriggeredJobCompleteContext context, CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(StoreCall.Completion, context.Trigger.Key);
            await base.FiringComplete(context, cancellationToken);
        }

        public override async ValueTask TriggeredJobComplete(IOperableTrigger trigger, IJobDetail jobDetail, SchedulerInstruction triggerInstructionCode,
            CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(StoreCall.Completion, trigger.Key);
            await base.TriggeredJobComplete(trigger, jobDetail, triggerInstructionCode, cancellationToken);
        }

        public override async ValueTask<ScheduleTriggerResult> StoreTrigger(IOperableTrigger newTrigger, TriggerConflict conflict, CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(StoreCall.TriggerStore, newTrigger.Key);
            return await base.StoreTrigger(newTrigger, conflict, cancellationToken);
        }

        public override async ValueTask<bool> DeleteTrigger(TriggerKey triggerKey, CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(StoreCall.TriggerDeletion, triggerKey);
            return await base.DeleteTrigger(triggerKey, cancellationToken);
        }
    }
}

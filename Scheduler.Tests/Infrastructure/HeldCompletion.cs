using Microsoft.Extensions.DependencyInjection;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// Holds the job store's completion of the <c>nth</c> firing of one trigger until released: the
/// window between a job's end and Quartz's bookkeeping of it, made as wide as a test needs.
/// </summary>
public sealed class HeldCompletion(TriggerKey trigger, int nth)
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _seen;

    /// <summary>Completed once the held completion has reached the store.</summary>
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _release.TrySetResult();

    /// <summary>Wraps the node's job store (the outermost decorator, after the node's own).</summary>
    public void Install(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IJobStore) && !d.IsKeyedService && d.ImplementationFactory is not null);
        var build = registered.ImplementationFactory!;
        services.Remove(registered);
        services.AddSingleton<IJobStore>(provider => new Store((IJobStore)build(provider), this));
    }

    private async ValueTask HoldAsync(ITrigger completed)
    {
        if (!completed.Key.Equals(trigger) || Interlocked.Increment(ref _seen) != nth)
            return;
        Reached.TrySetResult();
        await _release.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private sealed class Store(IJobStore inner, HeldCompletion held) : DelegatingJobStore(inner)
    {
        public override async ValueTask FiringComplete(TriggeredJobCompleteContext context, CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(context.Trigger);
            await base.FiringComplete(context, cancellationToken);
        }

        public override async ValueTask TriggeredJobComplete(IOperableTrigger trigger, IJobDetail jobDetail, SchedulerInstruction triggerInstructionCode,
            CancellationToken cancellationToken = default)
        {
            await held.HoldAsync(trigger);
            await base.TriggeredJobComplete(trigger, jobDetail, triggerInstructionCode, cancellationToken);
        }
    }
}

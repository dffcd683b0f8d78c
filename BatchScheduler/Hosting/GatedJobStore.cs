using Quartz;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.Hosting;

/// <summary>
/// The outermost decorator of the node's job store: every call that fires triggers, and every
/// completion, passes the node's <see cref="FiringGate"/>. Once the gate is closed nothing is fired:
/// an acquisition returns nothing, and triggers Quartz acquired ahead come back not fired (Quartz
/// releases them to <c>WAITING</c>, for another node or this one's next start).
/// </summary>
internal sealed class GatedJobStore(IJobStore inner, FiringGate gate) : DelegatingJobStore(inner)
{
    /// <summary>The store this one wraps (for tests that look at the node's own decorators).</summary>
    public IJobStore Inner => InnerJobStore;

    public override async ValueTask<TriggerAcquisitionResult> AcquireNextTriggersAndFireDue(
        TriggerAcquisitionRequest request, CancellationToken cancellationToken = default)
    {
        if (!gate.TryEnter())
            return new TriggerAcquisitionResult();
        var fired = 0;
        try
        {
            var result = await InnerJobStore.AcquireNextTriggersAndFireDue(request, cancellationToken);
            fired = Dispatched(result.Fired);
            return result;
        }
        finally
        {
            gate.Exit(fired);
        }
    }

    public override async ValueTask<List<TriggerFiredResult>> TriggersFired(IReadOnlyCollection<IOperableTrigger> triggers, CancellationToken cancellationToken = default)
    {
        if (!gate.TryEnter())
            return triggers.Select(_ => TriggerFiredResult.NotFired).ToList();
        var fired = 0;
        try
        {
            var results = await InnerJobStore.TriggersFired(triggers, cancellationToken);
            fired = Dispatched(results);
            return results;
        }
        finally
        {
            gate.Exit(fired);
        }
    }

    public override async ValueTask FiringComplete(TriggeredJobCompleteContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerJobStore.FiringComplete(context, cancellationToken);
        }
        finally
        {
            gate.Completed();
        }
    }

    public override async ValueTask TriggeredJobComplete(
        IOperableTrigger trigger, IJobDetail jobDetail, SchedulerInstruction triggerInstructionCode, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerJobStore.TriggeredJobComplete(trigger, jobDetail, triggerInstructionCode, cancellationToken);
        }
        finally
        {
            gate.Completed();
        }
    }

    /// <summary>The results Quartz's scheduler thread will run (and later complete): a bundle, no error.</summary>
    private static int Dispatched(List<TriggerFiredResult> results) =>
        results.Count(r => r.TriggerFiredBundle is not null && r.Exception is null);
}

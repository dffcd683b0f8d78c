using BatchScheduler.Coordination;
using BatchScheduler.WorkItems;
using Quartz;

namespace BatchScheduler.Scheduling;

/// <summary>Moves work items' triggers in Quartz: the only place that schedules or removes them.</summary>
public sealed class WorkItemScheduler(ISchedulerFactory schedulers)
{
    /// <summary>The durable job all of a data type's triggers fire.</summary>
    public static IJobDetail JobFor(string dataType) =>
        JobBuilder.Create<CoordinatorJob>()
            .WithIdentity(WorkItemKeys.Job(dataType))
            .WithDescription($"Coordinator for data type '{dataType}'")
            .StoreDurably()
            .RequestRecovery()
            .Build();

    /// <summary>
    /// Gives each item its regular trigger starting at its <c>StartAt</c> (null: now, by Quartz's
    /// clock), replacing any trigger it had; items in tier <c>exclude</c> lose their trigger instead.
    /// </summary>
    public async Task ArmAsync(
        DataTypeDefinition dataType, IReadOnlyCollection<(string EntityId, string? Tier, DateTimeOffset? StartAt)> items, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var excluded = items.Where(i => i.Tier == Tiers.Exclude)
            .Select(i => WorkItemKeys.Trigger(dataType.Name, i.EntityId)).ToList();
        if (excluded.Count > 0)
            await scheduler.UnscheduleJobs(excluded, cancellationToken);
        var triggers = items.Where(i => i.Tier != Tiers.Exclude)
            .Select(i => WorkItemTriggers.Regular(dataType.Name, i.EntityId, dataType.CadenceOf(i.Tier), i.StartAt))
            .ToList();
        foreach (var chunk in triggers.Chunk(1000))
        {
            var jobs = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>> { [JobFor(dataType.Name)] = chunk };
            await scheduler.ScheduleJobs(jobs, ScheduleJobOptions.Replacing, cancellationToken);
        }
    }

    /// <summary>Replaces the item's trigger with a single firing at <paramref name="at"/>.</summary>
    public async Task ScheduleOneOffAsync(string dataType, string entityId, DateTimeOffset at, FiringData data, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.ScheduleTrigger(WorkItemTriggers.OneOff(dataType, entityId, at, data), TriggerConflict.Replace, cancellationToken);
    }

    /// <summary>Removes the item's trigger, if it has one.</summary>
    public async Task RemoveAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.UnscheduleJob(WorkItemKeys.Trigger(dataType, entityId), cancellationToken);
    }
}

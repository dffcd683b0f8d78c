using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.QuartzTables;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;
using Quartz;

namespace BatchScheduler.Scheduling;

/// <summary>Moves work items' triggers in Quartz: the only place that schedules or removes them.</summary>
internal sealed class WorkItemScheduler(
    ISchedulerFactory schedulers, ConnectionFactory connections, IOptions<ClusterOptions> cluster, TimeProvider time, DataTypeCatalog catalog,
    ClusterWake wake)
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
    /// Gives each item its regular trigger starting at its <c>StartAt</c> (null: now), replacing any
    /// trigger it had; items in tier <c>exclude</c> lose their trigger instead. An item due now that
    /// has never completed (<c>NeverCompleted</c>) is placed <see cref="WorkItemTriggers.NeverRunLead"/>
    /// early in Quartz's due order, ahead of every item that has completed. A never-run item of a cron tier
    /// is due at its first tick instead, and an item due inside quiet hours when they end.
    /// </summary>
    public async Task ArmAsync(
        DataTypeDefinition dataType, IReadOnlyCollection<(string EntityId, string? Tier, DateTimeOffset? StartAt, bool NeverCompleted)> items,
        CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var excluded = items.Where(i => i.Tier == Tiers.Exclude)
            .Select(i => WorkItemKeys.Trigger(dataType.Name, i.EntityId)).ToList();
        if (excluded.Count > 0)
            await scheduler.UnscheduleJobs(excluded, cancellationToken);
        // Never-run items are due one tick (100 ns) apart, in order (see QuartzTables.BulkTriggerRows.InsertRegularTriggers).
        var now = time.GetUtcNow();
        var quiet = dataType.QuietHours;
        var armed = items.Where(i => i.Tier != Tiers.Exclude).Select((item, index) =>
        {
            var cadence = dataType.CadenceOf(item.Tier);
            // Inside quiet hours an item is due when they end, not placed early in due order.
            if (item.StartAt is null && quiet?.IsTimeIncluded(now) == false)
                return (Trigger: WorkItemTriggers.Regular(dataType.Name, item.EntityId, cadence, now, quiet), Ahead: (Start: 0L, Next: 0L));
            if (cadence is { IsCron: true } && item.StartAt is null)
            {
                // A new cron item is due at its first tick: it keeps its phase from the start. One due now (an
                // attempt cut off, a repair) fires now: Quartz gives it its first tick, moved to now after it is
                // written; firing there, Quartz's next is that first tick again.
                var trigger = WorkItemTriggers.Regular(dataType.Name, item.EntityId, cadence, now, quiet);
                return item.NeverCompleted || cadence.NextAfter(now.AddSeconds(-1), quiet) is not { } first
                    ? (Trigger: trigger, Ahead: (Start: 0L, Next: 0L))
                    : (Trigger: trigger, Ahead: (Start: first.UtcTicks, Next: now.UtcTicks));
            }
            if (item.StartAt is not null || !item.NeverCompleted)
                return (Trigger: WorkItemTriggers.Regular(dataType.Name, item.EntityId, cadence, item.StartAt, quiet), Ahead: (Start: 0L, Next: 0L));
            var due = now.AddTicks(index);
            // Quartz computes a trigger's first fire time from its start; the early one is written after
            // it (ArmedTriggerRows.MoveAheadAsync). A recurring trigger starts one cadence after its due time, so that
            // Quartz's next firing after the early one is the one a cadence after it fell due.
            var start = due + (cadence?.Interval ?? TimeSpan.Zero);
            return (Trigger: WorkItemTriggers.Regular(dataType.Name, item.EntityId, cadence, start, quiet),
                Ahead: (Start: start.UtcTicks, Next: (due - WorkItemTriggers.NeverRunLead).UtcTicks));
        }).ToList();
        foreach (var chunk in armed.Chunk(1000))
        {
            var jobs = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>> { [JobFor(dataType.Name)] = chunk.Select(a => a.Trigger).ToList() };
            await scheduler.ScheduleJobs(jobs, ScheduleJobOptions.Replacing, cancellationToken);
            await ArmedTriggerRows.MoveAheadAsync(connections, cluster.Value.SchedulerName, dataType.Name, chunk.Where(a => a.Ahead.Next != 0).Select(a => (a.Trigger.Key.Name, a.Ahead.Start, a.Ahead.Next)).ToList(),
                cancellationToken);
            await ArmedTriggerRows.ClearJobDataAsync(connections, cluster.Value.SchedulerName, dataType.Name, chunk.Select(a => a.Trigger.Key.Name).ToList(), cancellationToken);
        }
    }

    /// <summary>The item's trigger as it is now: when it fires next (null: none, or spent) and, for a one-off, its kind.</summary>
    internal async Task<ItemTrigger> CurrentAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (await scheduler.GetTrigger(WorkItemKeys.Trigger(dataType, entityId), cancellationToken) is not { } trigger)
            return ItemTrigger.None;
        return new ItemTrigger(trigger.NextFireTimeUtc, FiringData.OneOffKindOf(trigger));
    }

    /// <summary>
    /// The next fire time of the item's trigger when it is the regular trigger <see cref="ArmAsync"/> would arm for
    /// <paramref name="cadence"/> (the same repeating schedule, zone and calendar, no job data), so that moving its
    /// times alone re-arms it; otherwise (a one-off, a spent trigger, another schedule) null.
    /// </summary>
    internal async Task<DateTimeOffset?> RegularNextFireTimeAsync(DataTypeDefinition dataType, string entityId, Time.Cadence cadence, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (await scheduler.GetTrigger(WorkItemKeys.Trigger(dataType.Name, entityId), cancellationToken) is not { NextFireTimeUtc: { } next } trigger
            || trigger.JobDataMap.Count > 0 || FiringData.OneOffKindOf(trigger) is not null || !trigger.JobKey.Equals(WorkItemKeys.Job(dataType.Name))
            || trigger.CalendarName != (dataType.QuietHours is null ? null : Time.QuietHoursCalendar.CalendarName(dataType.Name)))
            return null;
        var same = trigger switch
        {
            ICronTrigger cron => cadence.IsCron && cron.CronExpressionString == cadence.CronExpression && cron.TimeZone.Id == cadence.TimeZone.Id,
            ISimpleTrigger simple => cadence.Interval is { } every && simple.RepeatCount == -1 && simple.RepeatInterval == every,
            _ => false,
        };
        return same ? next : null;
    }

    /// <summary>
    /// Replaces the item's trigger with a single firing at <paramref name="at"/>; for a <paramref name="paused"/> item
    /// stored paused in the same store operation, since a one-off due at once, stored waiting and paused after, can
    /// fire in between (and, turned away as busy, come back later than its place in the due order).
    /// </summary>
    public async Task ScheduleOneOffAsync(string dataType, string entityId, DateTimeOffset at, FiringData data, bool paused, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var quiet = catalog.TryGet(dataType, out var definition) ? definition.QuietHours : null;
        var trigger = WorkItemTriggers.OneOff(dataType, entityId, at, data, quiet);
        if (paused)
            await scheduler.ScheduleJob(trigger, new ScheduleJobOptions { Replace = true, Paused = true }, cancellationToken);
        else
            await scheduler.ScheduleTrigger(trigger, TriggerConflict.Replace, cancellationToken);
    }

    /// <summary>
    /// Removes the item's trigger if it is a repeating one (a recurring item's regular trigger, simple or cron), and
    /// leaves a one-off or one-shot trigger alone: that is either the spent trigger of the firing
    /// calling this, which Quartz's completion of it deletes unless something replaced it meanwhile,
    /// or such a replacement (a run-now, say), which must stay. True when a trigger was removed.
    /// </summary>
    public async Task<bool> RemoveRepeatingAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var key = WorkItemKeys.Trigger(dataType, entityId);
        return await scheduler.GetTrigger(key, cancellationToken) is ISimpleTrigger { RepeatCount: not 0 } or ICronTrigger
            && await scheduler.UnscheduleJob(key, cancellationToken);
    }

    /// <summary>Pauses the items' triggers (Quartz state <c>PAUSED</c>, with <paramref name="details"/> recorded on each): they do not fire until resumed.</summary>
    public async Task PauseAsync(string dataType, IReadOnlyCollection<string> entityIds, PauseDetails? details, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return;
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.PauseTriggersWith(entityIds.Select(e => WorkItemKeys.Trigger(dataType, e)).ToList(), details, cancellationToken);
    }

    /// <summary>
    /// Resumes the item's trigger, unless its data type is paused (then it stays paused with the group).
    /// Quartz's misfire threshold is far longer than any pause, so a trigger that fell due meanwhile keeps
    /// its fire time and runs once, in due order.
    /// </summary>
    public async Task ResumeAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (!await IsPausedAsync(dataType, cancellationToken))
            await scheduler.ResumeTrigger(WorkItemKeys.Trigger(dataType, entityId), cancellationToken);
    }

    /// <summary>Whether the data type is paused: its trigger group is in Quartz's <c>qrtz_paused_trigger_grps</c>.</summary>
    public async Task<bool> IsPausedAsync(string dataType, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        return await scheduler.IsTriggerGroupPaused(dataType, cancellationToken);
    }

    /// <summary>The paused data types (trigger groups) with Quartz's record of each pause (null when made without one).</summary>
    public async Task<IReadOnlyDictionary<string, PauseInfo?>> PausedGroupsAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var paused = new Dictionary<string, PauseInfo?>(StringComparer.Ordinal);
        foreach (var group in await scheduler.GetPausedTriggerGroups(cancellationToken))
            paused[group] = await scheduler.GetTriggerGroupPause(group, cancellationToken);
        return paused;
    }

    /// <summary>
    /// Pauses the data type's trigger group: Quartz marks every trigger in it <c>PAUSED</c> (one statement) and
    /// records the group, so triggers stored in it later are paused too, on every node.
    /// </summary>
    public async Task PauseGroupAsync(string dataType, PauseDetails details, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.PauseTriggerGroupsWith(GroupMatcher<TriggerKey>.GroupEquals(dataType), details, cancellationToken);
    }

    /// <summary>
    /// Resumes the data type's trigger group, leaving the triggers of items paused by themselves (<paramref name="pausedItems"/>)
    /// paused; see <see cref="ResumeAsync"/> on fire times. On PostgreSQL in one statement (<see cref="PausedGroupResume"/>);
    /// elsewhere Quartz resumes each trigger, and those of paused items are paused again at once.
    /// </summary>
    public async Task ResumeGroupAsync(string dataType, Func<Task<IReadOnlyList<string>>> pausedItems, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (connections.Provider == StorageProvider.Postgres)
        {
            var left = await PausedGroupResume.ResumeAsync(connections, cluster.Value.SchedulerName, dataType, time.GetUtcNow(),
                Hosting.QuartzServiceCollectionExtensions.MisfireThreshold, cancellationToken);
            if (left.Count > 0)
                await scheduler.ResumeTriggers(left.Select(e => WorkItemKeys.Trigger(dataType, e)).ToList(), cancellationToken);
            await wake.NotifyAsync(cancellationToken);
            return;
        }
        await scheduler.ResumeTriggerGroups(GroupMatcher<TriggerKey>.GroupEquals(dataType), cancellationToken);
        foreach (var chunk in (await pausedItems()).Chunk(1000))
            await PauseAsync(dataType, chunk, null, cancellationToken);
    }

    /// <summary>Replaces each item's trigger with a single firing at <paramref name="at"/> carrying <paramref name="data"/> (one Quartz transaction).</summary>
    public async Task ScheduleOneOffsAsync(string dataType, IReadOnlyCollection<string> entityIds, DateTimeOffset at, FiringData data, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return;
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        var quiet = catalog.TryGet(dataType, out var definition) ? definition.QuietHours : null;
        var jobs = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>>
        {
            [JobFor(dataType)] = entityIds.Select(e => WorkItemTriggers.OneOff(dataType, e, at, data, quiet)).ToList(),
        };
        await scheduler.ScheduleJobs(jobs, ScheduleJobOptions.Replacing, cancellationToken);
    }

    /// <summary>Resumes the items' triggers, unless their data type is paused (see <see cref="ResumeAsync"/>).</summary>
    public async Task ResumeManyAsync(string dataType, IReadOnlyCollection<string> entityIds, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        if (entityIds.Count > 0 && !await IsPausedAsync(dataType, cancellationToken))
            await scheduler.ResumeTriggers(entityIds.Select(e => WorkItemKeys.Trigger(dataType, e)).ToList(), cancellationToken);
    }

    /// <summary>Removes the items' triggers, those they have (one Quartz transaction).</summary>
    public async Task RemoveManyAsync(string dataType, IReadOnlyCollection<string> entityIds, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return;
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.UnscheduleJobs(entityIds.Select(e => WorkItemKeys.Trigger(dataType, e)).ToList(), cancellationToken);
    }

    /// <summary>Removes the item's trigger, if it has one.</summary>
    public async Task RemoveAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.UnscheduleJob(WorkItemKeys.Trigger(dataType, entityId), cancellationToken);
    }
}

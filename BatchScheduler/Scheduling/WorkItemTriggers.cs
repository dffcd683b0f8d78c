using BatchScheduler.Time;
using Quartz;

namespace BatchScheduler.Scheduling;

/// <summary>Builds the one trigger each work item has.</summary>
internal static class WorkItemTriggers
{
    /// <summary>
    /// How far ahead of its due time a never-completed item's first firing is placed in Quartz's
    /// due order (its trigger's <c>next_fire_time</c>), so that under a backlog it runs before every
    /// item that has completed and fell due less than this long ago: stalest first, never-run before all.
    /// A trigger whose next fire time lies before its own start time is such a trigger; its due time
    /// is that next fire time plus this lead (see <see cref="DueTime"/>).
    /// </summary>
    public static readonly TimeSpan NeverRunLead = TimeSpan.FromDays(30);

    /// <summary>
    /// When a trigger's firing at <paramref name="fireTime"/> is due: the fire time itself, or for a
    /// never-run item's early first firing (a fire time before the trigger's
    /// <paramref name="startTime"/>, which Quartz never produces itself), the fire time plus <see cref="NeverRunLead"/>.
    /// </summary>
    public static DateTimeOffset DueTime(DateTimeOffset fireTime, DateTimeOffset startTime) =>
        fireTime < startTime ? fireTime + NeverRunLead : fireTime;

    /// <summary>
    /// The item's regular trigger: repeating at <paramref name="cadence"/> from
    /// <paramref name="startAt"/> (null: now; with quiet hours, pass the time) for a recurring tier (Quartz re-arms it after each firing, so a
    /// success costs no reschedule): a simple trigger for an interval, a cron trigger in the cadence's
    /// zone for a cron cadence (its first firing is its first tick at or after the start); or a single
    /// firing for a one-shot item. With quiet hours (<paramref name="calendar"/>) the trigger carries
    /// their calendar, and a start inside them is moved to their end.
    /// </summary>
    public static ITrigger Regular(string dataType, string entityId, Cadence? cadence, DateTimeOffset? startAt, QuietHoursCalendar? calendar = null)
    {
        var builder = Base(dataType, entityId, calendar);
        builder = startAt is { } at ? builder.StartAt(OutsideQuietHours(at, calendar)) : builder.StartNow();
        if (cadence is { IsCron: true })
            return builder.WithCronSchedule(cadence.CronExpression!, c => c.InTimeZone(cadence.TimeZone).WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed)).Build();
        return cadence?.Interval is { } every
            ? builder.WithSimpleSchedule(s => s.WithInterval(every).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithExistingCount)).Build()
            : builder.WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow)).Build();
    }

    /// <summary>
    /// A single firing at <paramref name="at"/> carrying <paramref name="data"/> (retry, deferral, run-now); with
    /// quiet hours it carries their calendar and, due inside them, fires when they end (its data keeps the
    /// cycle's due time, so its expiry window still counts from that).
    /// </summary>
    public static ITrigger OneOff(string dataType, string entityId, DateTimeOffset at, FiringData data, QuietHoursCalendar? calendar = null) =>
        Base(dataType, entityId, calendar)
            // A one-off usually replaces the trigger of a firing that is still running (a retry or
            // deferral scheduled from inside it). BufferOne holds a trigger BLOCKED while its firing
            // runs, so a replacement due sooner waits for that firing's completion rather than
            // racing it; regular triggers, the hot path, go without (see Base).
            .WithOverlapPolicy(OverlapPolicy.BufferOne)
            .StartAt(OutsideQuietHours(at, calendar))
            .UsingJobData(data.ToMap())
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();

    /// <summary><paramref name="at"/>, or the end of the quiet hours it falls in (Quartz would never fire a single firing due inside them).</summary>
    public static DateTimeOffset OutsideQuietHours(DateTimeOffset at, QuietHoursCalendar? calendar) =>
        calendar is null ? at : calendar.GetNextIncludedTimeUtc(at);

    private static TriggerBuilder<IJob> Base(string dataType, string entityId, QuietHoursCalendar? calendar) =>
        TriggerBuilder.Create()
            .WithIdentity(WorkItemKeys.Trigger(dataType, entityId))
            .WithCalendarName(calendar is null ? null : QuietHoursCalendar.CalendarName(dataType))
            .ForJob(WorkItemKeys.Job(dataType))
            // No overlap policy on regular triggers: BufferOne stores the trigger BLOCKED for each
            // firing and takes the cluster lock on completion, which cut executions/s by 1.7x
            // (bench, 10,000 items: 452 → 777/s). One item never runs twice at once through the
            // coordinator's own guards instead (a per-node claim and the start statement).
            .WithRetryPolicy(RetryPolicy.None);
}

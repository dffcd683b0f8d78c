using BatchScheduler.Storage;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Puts a data type's quiet-hours calendar on all its existing triggers, or takes it off, in one statement
/// (<c>Hosting.JobRegistrationService</c>, at start, after the calendar is stored or before it is deleted).
/// </summary>
/// <remarks>
/// Quartz's own <c>AddCalendar(…, updateTriggers)</c> is not used: it recomputes each trigger's next fire
/// time from its previous one (<c>SimpleTriggerImpl.UpdateWithNewCalendar</c>), which ends an overdue
/// one-shot trigger that has not fired yet (the item would never run) and moves a never-run item out of
/// its early place in due order; and it loads and stores the triggers one by one under the cluster lock.
/// A trigger whose next fire time now falls inside quiet hours keeps it: its firing is held back to
/// their end when it is admitted (<c>Coordination.FiringAdmission</c>).
/// </remarks>
internal static class QuietHoursTriggerRows
{
    /// <summary>Sets <c>calendar_name</c> of every trigger in <paramref name="dataType"/>'s group to <paramref name="calendarName"/> (null: none); returns how many changed.</summary>
    public static async Task<int> SetCalendarAsync(ConnectionFactory connections, string schedulerName, string dataType, string? calendarName, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            calendarName is null
                ? "UPDATE qrtz_triggers SET calendar_name = NULL WHERE sched_name = @sched AND trigger_group = @group AND calendar_name IS NOT NULL"
                : "UPDATE qrtz_triggers SET calendar_name = @calendar WHERE sched_name = @sched AND trigger_group = @group AND (calendar_name IS NULL OR calendar_name <> @calendar)")
            .With("@sched", schedulerName).With("@group", dataType);
        if (calendarName is not null)
            command.With("@calendar", calendarName);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

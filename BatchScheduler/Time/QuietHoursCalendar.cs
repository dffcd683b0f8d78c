using Quartz;
using Quartz.Impl.Calendar;

namespace BatchScheduler.Time;

/// <summary>
/// A data type's quiet hours as a Quartz calendar: the times inside any of its <see cref="Windows"/>, in
/// its time zone, are excluded. Stored in <c>qrtz_calendars</c> as <see cref="CalendarName"/> and set on
/// the data type's item triggers, so Quartz's recurring triggers step over quiet hours and an operator
/// sees them in Quartz's own tables.
/// </summary>
internal sealed class QuietHoursCalendar : BaseCalendar
{
    public QuietHoursCalendar(TimeZoneInfo zone, IReadOnlyList<QuietWindow> windows)
    {
        TimeZone = zone;
        Windows = windows;
        Description = string.Join("; ", windows) + " (" + zone.Id + ")";
    }

    /// <summary>The name of a data type's quiet-hours calendar in Quartz's tables.</summary>
    public static string CalendarName(string dataType) => "quiet:" + dataType;

    public IReadOnlyList<QuietWindow> Windows { get; }

    public override bool IsTimeIncluded(DateTimeOffset timeUtc) => EndOfQuiet(timeUtc) is null;

    /// <summary>The first time at or after <paramref name="timeUtc"/> outside quiet hours (with Quartz's millisecond precision).</summary>
    public override DateTimeOffset GetNextIncludedTimeUtc(DateTimeOffset timeUtc)
    {
        var next = timeUtc;
        // Adjacent or overlapping windows: keep going until outside all of them (a week covers every shape).
        for (var i = 0; i < 14 && EndOfQuiet(next) is { } end; i++)
            next = end;
        return next;
    }

    /// <summary>When the quiet hours that hold <paramref name="timeUtc"/> end (UTC), or null when it is outside them.</summary>
    public DateTimeOffset? EndOfQuiet(DateTimeOffset timeUtc)
    {
        var local = TimeZoneInfo.ConvertTime(timeUtc, TimeZone).DateTime;
        DateTime? latest = null;
        foreach (var window in Windows)
        {
            if (window.Contains(local, out var end) && (latest is null || end > latest))
                latest = end;
        }
        if (latest is not { } localEnd)
            return null;
        // A wall-clock end that a DST change skips (e.g. 02:30 on the spring-forward night) is taken as the moment the clocks jump.
        while (TimeZone.IsInvalidTime(localEnd))
            localEnd = localEnd.AddMinutes(1);
        return new DateTimeOffset(localEnd, TimeZone.GetUtcOffset(localEnd)).ToUniversalTime();
    }

    public override ICalendar Clone() => new QuietHoursCalendar(TimeZone, Windows) { Description = Description };
}

using System.Globalization;
using Quartz;

namespace BatchScheduler.Time;

/// <summary>
/// How often a tier's items run: a fixed interval after each run (<c>"00:15:00"</c>), or the ticks of a
/// Quartz cron expression (<c>"cron:0 0 22 ? * MON-FRI"</c>) in the data type's time zone, which keep
/// their phase whatever happens in between (a retry, a deferral or a run-now does not move them).
/// </summary>
internal sealed class Cadence
{
    /// <summary>The prefix that marks a cron cadence in configuration.</summary>
    public const string CronPrefix = "cron:";

    private readonly CronExpression? _cron;

    private Cadence(TimeSpan? interval, CronExpression? cron)
    {
        Interval = interval;
        _cron = cron;
    }

    /// <summary>The interval of an interval cadence; null for a cron cadence.</summary>
    public TimeSpan? Interval { get; }

    /// <summary>The cron expression of a cron cadence (without the prefix); null for an interval.</summary>
    public string? CronExpression => _cron?.CronExpressionString;

    /// <summary>The zone a cron cadence's ticks are in (UTC for an interval).</summary>
    public TimeZoneInfo TimeZone => _cron?.TimeZone ?? TimeZoneInfo.Utc;

    public bool IsCron => _cron is not null;

    public static Cadence Every(TimeSpan interval) => new(interval, null);

    /// <summary>A cron cadence; throws <see cref="FormatException"/> for an expression Quartz does not accept.</summary>
    public static Cadence Cron(string expression, TimeZoneInfo zone) =>
        new(null, new CronExpression(expression, zone));

    /// <summary>
    /// Reads a configured cadence: a duration or <c>cron:</c> and an expression, evaluated in <paramref name="zone"/>.
    /// False, with what is wrong, when it is neither.
    /// </summary>
    public static bool TryParse(string text, TimeZoneInfo zone, out Cadence? cadence, out string? error)
    {
        cadence = null;
        error = null;
        if (text.StartsWith(CronPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var expression = text[CronPrefix.Length..].Trim();
            try
            {
                cadence = Cron(expression, zone);
                return true;
            }
            catch (FormatException e)
            {
                error = $"'{expression}' is not a Quartz cron expression ({e.Message}); for example \"cron:0 0 22 ? * MON-FRI\" (seconds minutes hours day-of-month month day-of-week)";
                return false;
            }
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var interval))
        {
            cadence = Every(interval);
            return true;
        }
        error = "expected a duration such as \"01:00:00\" or a cron expression such as \"cron:0 0 22 ? * MON-FRI\"";
        return false;
    }

    /// <summary>
    /// When an item run at <paramref name="instant"/> (or put back on its cadence then) runs next: one
    /// interval later, or the first cron tick after it; a tick that <paramref name="quietHours"/> exclude
    /// is stepped over, as Quartz's trigger steps over it. Null when no tick is left.
    /// </summary>
    public DateTimeOffset? NextAfter(DateTimeOffset instant, ICalendar? quietHours = null)
    {
        if (Interval is { } every)
            return instant + every;
        var next = _cron!.GetNextValidTimeAfter(instant);
        // Bounded like Quartz's own CronTriggerImpl (it gives up in the year 2299): ticks excluded for ever end it.
        for (var steps = 0; next is { } tick && quietHours is not null && !quietHours.IsTimeIncluded(tick) && steps < 100_000; steps++)
            next = _cron.GetNextValidTimeAfter(tick);
        return next is { } found && (quietHours is null || quietHours.IsTimeIncluded(found)) ? found : null;
    }

    /// <summary>As configured: <c>"00:15:00"</c> or <c>"cron:0 0 8 * * ?"</c>.</summary>
    public override string ToString() =>
        Interval is { } every ? every.ToString("c", CultureInfo.InvariantCulture) : CronPrefix + CronExpression;
}

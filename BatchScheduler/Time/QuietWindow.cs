using System.Globalization;

namespace BatchScheduler.Time;

/// <summary>
/// One quiet-hours window: from <see cref="From"/> to <see cref="To"/> (local wall-clock times of the data
/// type's zone), starting on each of <see cref="Days"/>; a window whose <c>To</c> is not after its
/// <c>From</c> crosses midnight and ends the next day.
/// </summary>
internal sealed record QuietWindow(TimeOnly From, TimeOnly To, IReadOnlyList<DayOfWeek> Days)
{
    private static readonly string[] DayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

    /// <summary>How long the window lasts.</summary>
    public TimeSpan Length => To > From ? To - From : TimeSpan.FromDays(1) - (From - To);

    /// <summary>Whether the local time <paramref name="local"/> lies in the window (from inclusive, to exclusive).</summary>
    public bool Contains(DateTime local, out DateTime end)
    {
        // The window that may hold it started today or, crossing midnight, yesterday.
        for (var back = 0; back <= 1; back++)
        {
            var startDay = local.Date.AddDays(-back);
            if (!Days.Contains(startDay.DayOfWeek))
                continue;
            var start = startDay + From.ToTimeSpan();
            end = start + Length;
            if (local >= start && local < end)
                return true;
        }
        end = default;
        return false;
    }

    /// <summary>Reads a day name as configured: <c>Mon</c>, <c>monday</c>, …</summary>
    public static DayOfWeek? ParseDay(string text)
    {
        for (var d = 0; d < 7; d++)
        {
            var full = ((DayOfWeek)d).ToString();
            if (string.Equals(text, DayNames[d], StringComparison.OrdinalIgnoreCase) || string.Equals(text, full, StringComparison.OrdinalIgnoreCase))
                return (DayOfWeek)d;
        }
        return null;
    }

    /// <summary>Reads an <c>HH:mm</c> time of day.</summary>
    public static TimeOnly? ParseTime(string? text) =>
        TimeOnly.TryParseExact(text, ["HH:mm", "H:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : null;

    /// <summary>As an operator reads it: <c>22:00–07:00 Mon,Tue</c> or <c>22:00–07:00 every day</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{From:HH\\:mm}-{To:HH\\:mm} ") +
        (Days.Count == 7 ? "every day" : string.Join(",", Days.Select(d => DayNames[(int)d])));

    internal static string DayName(DayOfWeek day) => DayNames[(int)day];
}

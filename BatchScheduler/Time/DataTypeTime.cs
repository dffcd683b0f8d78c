using BatchScheduler.Configuration;

namespace BatchScheduler.Time;

/// <summary>
/// A data type's time settings read and checked together: its zone (<c>TimeZone</c>), each tier's
/// <see cref="Cadence"/> and its quiet hours as a <see cref="QuietHoursCalendar"/> (null: none).
/// </summary>
internal sealed record DataTypeTime(TimeZoneInfo Zone, IReadOnlyDictionary<string, Cadence?> Cadences, QuietHoursCalendar? QuietHours)
{
    /// <summary>
    /// Reads the settings under <paramref name="key"/> (<c>DataTypes:&lt;name&gt;</c>); every problem is added to
    /// <paramref name="errors"/> naming the setting, the value and what is allowed.
    /// </summary>
    public static DataTypeTime Read(string key, DataTypeOptions options, List<string> errors)
    {
        var zone = TimeZoneInfo.Utc;
        if (!string.IsNullOrWhiteSpace(options.TimeZone) && !TimeZoneInfo.TryFindSystemTimeZoneById(options.TimeZone, out zone!))
        {
            errors.Add($"{key}:TimeZone '{options.TimeZone}' is not a time zone known to this machine; use an IANA id such as \"Europe/Berlin\" or \"UTC\" (is the tzdata package installed?).");
            zone = TimeZoneInfo.Utc;
        }
        var cadences = new Dictionary<string, Cadence?>(StringComparer.Ordinal);
        foreach (var (tier, text) in options.Cadence)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                cadences[tier] = null;
                continue;
            }
            if (Cadence.TryParse(text, zone, out var cadence, out var error))
                cadences[tier] = cadence;
            else
                errors.Add($"{key}:Cadence:{tier} '{text}': {error}.");
        }
        var windows = new List<QuietWindow>();
        for (var i = 0; i < options.QuietHours.Count; i++)
        {
            var w = options.QuietHours[i];
            var at = $"{key}:QuietHours:{i}";
            var from = QuietWindow.ParseTime(w.From);
            var to = QuietWindow.ParseTime(w.To);
            if (from is null)
                errors.Add($"{at}:From '{w.From}' is not a time of day; use HH:mm such as \"22:00\".");
            if (to is null)
                errors.Add($"{at}:To '{w.To}' is not a time of day; use HH:mm such as \"07:00\".");
            if (from is not null && from == to)
                errors.Add($"{at}: From and To are both {w.From}; a window needs a length (To before From crosses midnight, e.g. From \"22:00\" To \"07:00\").");
            var days = new List<DayOfWeek>();
            for (var d = 0; d < w.Days.Count; d++)
            {
                if (QuietWindow.ParseDay(w.Days[d]) is { } day)
                    days.Add(day);
                else
                    errors.Add($"{at}:Days:{d} '{w.Days[d]}' is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun.");
            }
            if (from is { } f && to is { } t && f != t)
                windows.Add(new QuietWindow(f, t, days.Count == 0 ? Enum.GetValues<DayOfWeek>() : days.Distinct().Order().ToList()));
        }
        var calendar = windows.Count == 0 ? null : new QuietHoursCalendar(zone, windows);
        if (calendar is not null)
            CheckCadencesAgainstQuietHours(key, cadences, calendar, errors);
        return new DataTypeTime(zone, cadences, calendar);
    }

    /// <summary>
    /// Quartz steps a recurring trigger over quiet hours one cadence at a time: an interval as long as the
    /// shortest stretch between quiet windows could step over every such stretch, and a cron cadence
    /// whose every tick is quiet, for ever, so the item would never run again. Both are refused.
    /// </summary>
    private static void CheckCadencesAgainstQuietHours(string key, Dictionary<string, Cadence?> cadences, QuietHoursCalendar calendar, List<string> errors)
    {
        // The week in minutes, local wall-clock time (a DST change moves a stretch by an hour at most).
        var monday = new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Unspecified);
        var quiet = new bool[7 * 24 * 60];
        for (var m = 0; m < quiet.Length; m++)
            quiet[m] = calendar.Windows.Any(w => w.Contains(monday.AddMinutes(m), out _));
        if (quiet.All(q => q))
        {
            errors.Add($"{key}:QuietHours cover the whole week: no item of this data type could ever run.");
            return;
        }
        var shortest = ShortestOpenStretch(quiet);
        foreach (var (tier, cadence) in cadences)
        {
            if (cadence?.Interval is { } every && every >= shortest)
                errors.Add($"{key}:Cadence:{tier} {cadence} is not shorter than the shortest time between quiet hours ({shortest:c}): its steps could all fall inside {key}:QuietHours. Use a shorter interval or a cron cadence (\"cron:0 0 8 * * ?\").");
            if (cadence is { IsCron: true } && cadence.NextAfter(DateTimeOffset.UnixEpoch.AddYears(56), calendar) is null)
                errors.Add($"{key}:Cadence:{tier} '{cadence}': every tick falls inside {key}:QuietHours, so its items would never run.");
        }
    }

    private static TimeSpan ShortestOpenStretch(bool[] quiet)
    {
        var start = Array.IndexOf(quiet, true);
        var shortest = int.MaxValue;
        var run = 0;
        for (var i = 1; i <= quiet.Length; i++)
        {
            if (!quiet[(start + i) % quiet.Length])
            {
                run++;
                continue;
            }
            if (run > 0)
                shortest = Math.Min(shortest, run);
            run = 0;
        }
        return TimeSpan.FromMinutes(shortest);
    }

    /// <summary>The cadence of <paramref name="tier"/>; null for a tier that runs once (or no tier).</summary>
    public Cadence? CadenceOf(string? tier) => tier is not null && Cadences.TryGetValue(tier, out var cadence) ? cadence : null;
}

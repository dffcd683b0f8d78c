using BatchScheduler.Time;

namespace BatchScheduler.Tests.Time;

/// <summary>Next-tick math of cron cadences in a non-UTC zone, and quiet hours across midnight (pure, no clock).</summary>
public sealed class CadenceTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static Cadence Parse(string text, TimeZoneInfo zone)
    {
        Assert.True(Cadence.TryParse(text, zone, out var cadence, out var error), error);
        return cadence!;
    }

    [Fact]
    public void NextAfter_DailyAt08InBerlin_AcrossSpringForward_Is08LocalEachDay()
    {
        var dose = Parse("cron:0 0 8 * * ?", Berlin);

        // 08:00 CET is 07:00 UTC on the 28th; on the 29th the clocks go forward, 08:00 CEST is 06:00 UTC.
        Assert.Equal(DateTimeOffset.Parse("2026-03-28T07:00:00Z"), dose.NextAfter(DateTimeOffset.Parse("2026-03-27T12:00:00Z")));
        Assert.Equal(DateTimeOffset.Parse("2026-03-29T06:00:00Z"), dose.NextAfter(DateTimeOffset.Parse("2026-03-28T07:00:00Z")));
    }

    [Fact]
    public void NextAfter_DailyAt08InBerlin_AcrossFallBack_Is08LocalEachDay()
    {
        var dose = Parse("cron:0 0 8 * * ?", Berlin);

        Assert.Equal(DateTimeOffset.Parse("2026-10-25T07:00:00Z"), dose.NextAfter(DateTimeOffset.Parse("2026-10-24T06:00:00Z")));
    }

    [Fact]
    public void NextAfter_HourlyCron_KeepsItsPhase_WhereAnIntervalCountsFromTheRun()
    {
        var retriedAt = DateTimeOffset.Parse("2026-06-01T10:17:00Z");

        Assert.Equal(DateTimeOffset.Parse("2026-06-01T11:00:00Z"), Parse("cron:0 0 * * * ?", TimeZoneInfo.Utc).NextAfter(retriedAt));
        Assert.Equal(DateTimeOffset.Parse("2026-06-01T11:17:00Z"), Parse("01:00:00", TimeZoneInfo.Utc).NextAfter(retriedAt));
    }

    [Fact]
    public void NextAfter_TickInsideQuietHours_IsSteppedOverToTheFirstTickAfterThem()
    {
        var quarterly = Parse("cron:0 0/15 * * * ?", Berlin);
        var quiet = new QuietHoursCalendar(Berlin, [new QuietWindow(new TimeOnly(22, 0), new TimeOnly(7, 0), Enum.GetValues<DayOfWeek>())]);

        // 21:50 Berlin (CEST, UTC+2): the ticks from 22:00 to 06:45 are quiet; 07:00 Berlin is 05:00 UTC.
        Assert.Equal(DateTimeOffset.Parse("2026-06-02T05:00:00Z"), quarterly.NextAfter(DateTimeOffset.Parse("2026-06-01T19:50:00Z"), quiet));
    }

    [Fact]
    public void QuietHours_AcrossMidnight_ExcludeTheNightAndEndAt07Local()
    {
        var quiet = new QuietHoursCalendar(Berlin, [new QuietWindow(new TimeOnly(22, 0), new TimeOnly(7, 0), Enum.GetValues<DayOfWeek>())]);

        Assert.False(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-01T21:30:00Z"))); // 23:30 Berlin
        Assert.Equal(DateTimeOffset.Parse("2026-06-02T05:00:00Z"), quiet.EndOfQuiet(DateTimeOffset.Parse("2026-06-01T21:30:00Z")));
        Assert.False(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-02T04:59:00Z"))); // 06:59 Berlin
        Assert.True(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-02T05:00:00Z")));  // 07:00 Berlin
        Assert.True(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-01T19:59:00Z")));  // 21:59 Berlin
    }

    [Fact]
    public void QuietHours_WithDays_CoverTheNightAfterEachStartDayOnly()
    {
        // Mon 22:00 to Tue 07:00 only. 2026-06-01 is a Monday.
        var quiet = new QuietHoursCalendar(TimeZoneInfo.Utc, [new QuietWindow(new TimeOnly(22, 0), new TimeOnly(7, 0), [DayOfWeek.Monday])]);

        Assert.False(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-02T03:00:00Z"))); // Tue 03:00
        Assert.True(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-03T03:00:00Z")));  // Wed 03:00
        Assert.True(quiet.IsTimeIncluded(DateTimeOffset.Parse("2026-06-01T03:00:00Z")));  // Mon 03:00 (Sunday's night is not quiet)
    }
}

using System.Globalization;

namespace BatchScheduler.Api;

/// <summary>
/// Reads an item's <c>runAt</c>: an ISO 8601 instant with its offset (<c>2026-11-23T08:00:00Z</c>,
/// <c>2026-11-23T10:00:00+02:00</c>, fractions of a second allowed), no more than <see cref="MaxAhead"/> ahead.
/// </summary>
internal static class RunAtText
{
    /// <summary>How far ahead a <c>runAt</c> may lie: further is almost always a typo in the year.</summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromDays(3660);

    private static readonly string[] Formats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
        "yyyy-MM-dd'T'HH:mmzzz", "yyyy-MM-dd'T'HH:mm'Z'",
    ];

    /// <summary>
    /// The instant <paramref name="text"/> names (null when absent or blank), or why it is not one,
    /// naming <paramref name="field"/>.
    /// </summary>
    public static (DateTimeOffset? RunAt, string? Error) Read(string? text, string field, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (null, null);
        var trimmed = text.Trim();
        if (!DateTimeOffset.TryParseExact(trimmed, Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            return (null, $"{field} '{TextRules.Printable(trimmed)}' is not an ISO 8601 instant with an offset; write e.g. 2026-11-23T08:00:00Z or 2026-11-23T10:00:00+02:00.");
        if (at - now > MaxAhead)
            return (null, $"{field} {trimmed} is more than {MaxAhead.TotalDays:0} days ahead; the latest allowed now is {(now + MaxAhead).ToUniversalTime():yyyy-MM-dd'T'HH:mm:ss'Z'}.");
        return (at.ToUniversalTime(), null);
    }
}

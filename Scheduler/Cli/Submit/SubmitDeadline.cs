using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace BatchScheduler.Cli.Submit;

/// <summary>
/// Reads <c>--deadline</c>: an ISO-8601 instant with an offset (<c>2025-06-01T18:00:00Z</c>) or a
/// duration from now (<c>00:30:00</c>). The node is always sent the instant.
/// </summary>
internal static class SubmitDeadline
{
    public static bool TryParse(string text, DateTimeOffset now, out DateTimeOffset deadline, [NotNullWhen(false)] out string? problem)
    {
        deadline = default;
        // A duration first: "00:30:00" would also parse as a time of day today.
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var fromNow) && text.Contains(':'))
        {
            if (fromNow <= TimeSpan.Zero)
            {
                problem = $"--deadline '{text}' is not a positive duration; give one like 00:30:00 or an instant like 2025-06-01T18:00:00Z.";
                return false;
            }
            deadline = now + fromNow;
            problem = null;
            return true;
        }
        if (!DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed))
        {
            problem = $"--deadline '{text}' is neither an ISO-8601 instant (2025-06-01T18:00:00Z) nor a duration (00:30:00).";
            return false;
        }
        if (parsed.Kind == DateTimeKind.Unspecified)
        {
            problem = $"--deadline '{text}' has no offset, so the instant is ambiguous; add one, e.g. {text}Z or {text}+02:00.";
            return false;
        }
        deadline = new DateTimeOffset(parsed.ToUniversalTime(), TimeSpan.Zero);
        if (deadline <= now)
        {
            problem = $"--deadline '{text}' is in the past.";
            return false;
        }
        problem = null;
        return true;
    }
}

using System.Globalization;

namespace BatchScheduler.Retry;

/// <summary>
/// Decides between retry, dead-letter and expire for one data type's policy. A retry is a
/// reschedule the coordinator persists, never a wait.
/// </summary>
/// <param name="options">The data type's retry policy.</param>
/// <param name="expiry">How long after an item became due an attempt is still worth making; null for no limit.</param>
/// <param name="random01">Source of values in [0, 1) for jitter.</param>
internal sealed class RetryPlanner(RetryOptions options, TimeSpan? expiry, Func<double> random01)
{
    private readonly RetryOptions _options = options ?? throw new ArgumentNullException(nameof(options));
    private readonly Func<double> _random01 = random01 ?? throw new ArgumentNullException(nameof(random01));

    /// <summary>Decides what follows the failure of <paramref name="failedAttempt"/>.</summary>
    /// <param name="failedAttempt">The attempt that just failed, 1-based.</param>
    /// <param name="now">The current time.</param>
    /// <param name="dueAt">When the item's current due cycle became due; the expiry window starts there.</param>
    /// <param name="error">Short "ExceptionType: message" text for the reason.</param>
    public RetryDecision Decide(int failedAttempt, DateTimeOffset now, DateTimeOffset dueAt, string error)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        int totalAttempts = 1 + _options.MaxRetryAttempts;
        if (failedAttempt >= totalAttempts)
        {
            return new RetryDecision.DeadLetter($"Dead-lettered after {failedAttempt} attempts: {error}");
        }

        var delay = RetryDelay.Compute(_options, failedAttempt, _random01());
        var at = now + delay;
        if (expiry is { } window && at > dueAt + window)
        {
            return new RetryDecision.Expire(
                $"Expired: the retry at {FormatTime(at)} would fall past the expiry window of {window:c} (due {FormatTime(dueAt)})");
        }

        int nextAttempt = failedAttempt + 1;
        return new RetryDecision.Retry(
            at, delay, nextAttempt, $"Retry attempt {nextAttempt} of {totalAttempts} in {FormatDelay(delay)}: {error}");
    }

    /// <summary>True when an attempt starting at <paramref name="now"/> is past the expiry window.</summary>
    public bool IsExpired(DateTimeOffset now, DateTimeOffset dueAt) => expiry is { } window && now > dueAt + window;

    private static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // Jittered delays carry ticks; a reason reads better in whole seconds (milliseconds below one).
    private static string FormatDelay(TimeSpan delay) => delay >= TimeSpan.FromSeconds(1)
        ? TimeSpan.FromSeconds(Math.Round(delay.TotalSeconds)).ToString("c", CultureInfo.InvariantCulture)
        : TimeSpan.FromMilliseconds(Math.Round(delay.TotalMilliseconds)).ToString(@"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture);
}

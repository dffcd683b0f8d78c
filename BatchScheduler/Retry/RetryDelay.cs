namespace BatchScheduler.Retry;

/// <summary>Backoff math: how long to wait after a failed attempt. Pure; the caller supplies randomness.</summary>
internal static class RetryDelay
{
    private const double JitterLow = 0.8;
    private const double JitterSpread = 0.4;

    /// <summary>
    /// The delay before retrying after <paramref name="failedAttempt"/> (1-based) failed:
    /// Constant = Delay, Linear = Delay × attempt, Exponential = Delay × 2^(attempt-1), capped at
    /// MaxDelay. With jitter the result is scaled by a factor in [0.8, 1.2) taken from
    /// <paramref name="random01"/> and capped again.
    /// </summary>
    /// <param name="options">The retry policy.</param>
    /// <param name="failedAttempt">The attempt that just failed, 1 or more.</param>
    /// <param name="random01">A random value in [0, 1]; ignored without jitter.</param>
    public static TimeSpan Compute(RetryOptions options, int failedAttempt, double random01)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        if (double.IsNaN(random01) || random01 is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(random01), random01, "Must be between 0 and 1.");
        }

        double capTicks = Math.Max(0, options.MaxDelay.Ticks);
        double baseTicks = Math.Max(0, options.Delay.Ticks);
        if (baseTicks == 0)
        {
            // 0 × 2^huge would be NaN.
            return TimeSpan.Zero;
        }

        // In double so 2^attempt saturates to infinity instead of overflowing; the cap brings it back.
        double ticks = options.BackoffType switch
        {
            RetryBackoffType.Constant => baseTicks,
            RetryBackoffType.Linear => baseTicks * failedAttempt,
            RetryBackoffType.Exponential => baseTicks * Math.Pow(2, failedAttempt - 1),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.BackoffType, "Unknown BackoffType."),
        };
        ticks = Math.Min(ticks, capTicks);

        if (options.UseJitter)
        {
            ticks = Math.Min(ticks * (JitterLow + (JitterSpread * random01)), capTicks);
        }

        return TimeSpan.FromTicks((long)Math.Max(0, ticks));
    }
}

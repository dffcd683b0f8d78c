namespace BatchScheduler.Retry;

/// <summary>What the coordinator does after an attempt failed, with a human-readable reason to persist.</summary>
/// <param name="Reason">Why, e.g. "Retry attempt 2 of 4 in 00:01:00: TimeoutException: ...".</param>
internal abstract record RetryDecision(string Reason)
{
    /// <summary>Run the item again at <paramref name="At"/> as attempt <paramref name="NextAttempt"/>.</summary>
    public sealed record Retry(DateTimeOffset At, TimeSpan Delay, int NextAttempt, string Reason) : RetryDecision(Reason);

    /// <summary>Out of attempts: keep the item, visible and retryable by hand, but stop running it.</summary>
    public sealed record DeadLetter(string Reason) : RetryDecision(Reason);

    /// <summary>A retry would land past the expiry window, where running is pointless.</summary>
    public sealed record Expire(string Reason) : RetryDecision(Reason);
}

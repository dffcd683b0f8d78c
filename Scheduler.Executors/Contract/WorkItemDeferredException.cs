namespace BatchScheduler.Executors.Contract;

/// <summary>
/// Thrown by an executor that cannot do its work now but should be run again after
/// <see cref="RetryAfter"/> (e.g. an HTTP 429 with Retry-After). No attempt is counted and no
/// failure is recorded; the item shows as <c>deferred</c> until it runs again.
/// </summary>
public sealed class WorkItemDeferredException(TimeSpan retryAfter, string reason)
    : Exception(reason)
{
    /// <summary>How long to wait before running the item again.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter < TimeSpan.Zero ? TimeSpan.Zero : retryAfter;
}

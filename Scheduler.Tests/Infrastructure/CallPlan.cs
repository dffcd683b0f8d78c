namespace BatchScheduler.Tests.Infrastructure;

/// <summary>How the <see cref="HttpRecorder"/> answers one call: after how long, with which status.</summary>
public sealed record CallPlan(int Status, TimeSpan Duration, TimeSpan? RetryAfter = null)
{
    public static CallPlan Succeed(TimeSpan duration) => new(200, duration);

    public static CallPlan Fail(TimeSpan duration) => new(500, duration);

    /// <summary>429 with <c>Retry-After</c>: the <c>http</c> executor defers the item.</summary>
    public static CallPlan Defer(TimeSpan duration, TimeSpan retryAfter) => new(429, duration, retryAfter);

    public override string ToString() =>
        $"{Status}{(RetryAfter is { } after ? $" (Retry-After {after.TotalSeconds:0})" : "")} after {Duration.TotalSeconds:0.0##} s";
}

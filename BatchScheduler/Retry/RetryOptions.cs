namespace BatchScheduler.Retry;

/// <summary>
/// A data type's retry policy, bound from <c>DataTypes:&lt;name&gt;:Retry</c>. Names follow Polly v8:
/// <see cref="MaxRetryAttempts"/> counts retries after the first attempt.
/// </summary>
internal sealed class RetryOptions
{
    internal const int MaxAllowedRetryAttempts = 100;
    internal static readonly TimeSpan MaxAllowedDelay = TimeSpan.FromDays(1);

    /// <summary>Retries after the first attempt; total attempts = 1 + this. 0 disables retries.</summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The base delay before the first retry.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How the delay grows from retry to retry.</summary>
    public RetryBackoffType BackoffType { get; set; } = RetryBackoffType.Exponential;

    /// <summary>The longest any single delay may be, jitter included.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Spread delays by ±20% so items that failed together do not retry together.</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// Returns the problems with these settings, each naming the key relative to the
    /// <c>Retry</c> section, the value and what is allowed; empty when valid.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MaxRetryAttempts is < 0 or > MaxAllowedRetryAttempts)
        {
            problems.Add($"MaxRetryAttempts must be between 0 and {MaxAllowedRetryAttempts} (was {MaxRetryAttempts})");
        }

        if (Delay < TimeSpan.Zero || Delay > MaxAllowedDelay)
        {
            problems.Add($"Delay must be between 00:00:00 and {MaxAllowedDelay:c} (was {Delay:c})");
        }

        if (!Enum.IsDefined(BackoffType))
        {
            problems.Add($"BackoffType must be one of {string.Join(", ", Enum.GetNames<RetryBackoffType>())} (was {BackoffType})");
        }

        if (MaxDelay <= TimeSpan.Zero || MaxDelay > MaxAllowedDelay)
        {
            problems.Add($"MaxDelay must be greater than 00:00:00 and at most {MaxAllowedDelay:c} (was {MaxDelay:c})");
        }
        else if (MaxDelay < Delay)
        {
            problems.Add($"MaxDelay must not be shorter than Delay ({Delay:c}) (was {MaxDelay:c})");
        }

        return problems;
    }
}

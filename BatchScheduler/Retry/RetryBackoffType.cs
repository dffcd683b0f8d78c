namespace BatchScheduler.Retry;

/// <summary>How the delay between attempts grows.</summary>
public enum RetryBackoffType
{
    /// <summary>Every retry waits <see cref="RetryOptions.Delay"/>.</summary>
    Constant,

    /// <summary>Retry n waits <see cref="RetryOptions.Delay"/> × n.</summary>
    Linear,

    /// <summary>Retry n waits <see cref="RetryOptions.Delay"/> × 2^(n-1).</summary>
    Exponential,
}

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>Waits for a condition a test cannot be told about directly, e.g. a row another thread writes.</summary>
public static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Polls <paramref name="condition"/> every 50 ms until it holds; throws with <paramref name="because"/>
    /// when it still does not after <paramref name="timeout"/>.
    /// </summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        if (!await WithinAsync(condition, timeout))
            throw new TimeoutException($"Still not true after {timeout.TotalSeconds:0.##} s: {because}");
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every 50 ms until it holds (true) or <paramref name="timeout"/>
    /// has passed (false), for a test that reports what is still missing rather than only that it is.
    /// </summary>
    public static async Task<bool> WithinAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)(timeout.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            if (await condition())
                return true;
            if (TimeProvider.System.GetTimestamp() >= deadline)
                return false;
            await Task.Delay(PollInterval);
        }
    }
}

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
        var deadline = TimeProvider.System.GetTimestamp() + (long)(timeout.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            if (await condition())
                return;
            if (TimeProvider.System.GetTimestamp() >= deadline)
                throw new TimeoutException($"Still not true after {timeout.TotalSeconds:0.##} s: {because}");
            await Task.Delay(PollInterval);
        }
    }
}

namespace BatchScheduler.Executors.Contract;

/// <summary>
/// What a call cost, when it is not what the data type's <c>CreditsPerCall</c> says: an executor
/// whose vendor charges by result size, for instance, reports the actual credits with
/// <see cref="Report"/>. The coordinator reserves <c>CreditsPerCall</c> before the call and settles
/// the difference after it: a cheaper call gives credits back to the window, a dearer one takes
/// more (even past the window's budget, since the call has happened; later calls then wait).
/// </summary>
public sealed class WorkItemCost
{
    /// <summary>The credits the executor reported, or null when it reported none.</summary>
    public int? Credits { get; private set; }

    /// <summary>Reports what the call cost in vendor credits; the last report wins.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The cost is negative.</exception>
    public void Report(int credits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(credits);
        Credits = credits;
    }
}

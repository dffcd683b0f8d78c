namespace BatchScheduler.WorkItems;

/// <summary>The states a work item shows in the API and the <c>work_items.state</c> column.</summary>
internal static class WorkItemStates
{
    public const string NeverRun = "never_run";
    public const string InFlight = "in_flight";
    public const string Completed = "completed";
    public const string Retrying = "retrying";
    public const string Deferred = "deferred";
    public const string DeadLettered = "dead_lettered";
    public const string Expired = "expired";

    /// <summary>Paused by an operator: never starts until resumed (its state before the pause is kept in <c>paused_state</c>).</summary>
    public const string Paused = "paused";

    public static readonly IReadOnlyList<string> All =
        [NeverRun, InFlight, Completed, Retrying, Deferred, DeadLettered, Expired, Paused];
}

/// <summary>Reserved tier names.</summary>
internal static class Tiers
{
    /// <summary>Items in this tier are kept but never run.</summary>
    public const string Exclude = "exclude";

    /// <summary>The <c>work_items.tier</c> column is 50 characters wide.</summary>
    public const int MaxLength = 50;
}

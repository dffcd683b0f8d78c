
namespace BatchScheduler.Scheduling;

/// <summary>What an item's trigger is right now, as a move sees it under the item's lock.</summary>
/// <param name="NextFireTime">When it fires next; null when there is none, or it is spent (its firing runs or has run).</param>
/// <param name="OneOffKind">The kind of a one-off (retry, deferral, run-now, upstream arm); null for a regular trigger.</param>
internal readonly record struct ItemTrigger(DateTimeOffset? NextFireTime, FiringKind? OneOffKind)
{
    public static readonly ItemTrigger None = new(null, null);

    /// <summary>It will fire (later or now).</summary>
    public bool IsPending => NextFireTime is not null;

    /// <summary>
    /// A pending run-now or upstream arm: a request from outside any attempt, which no attempt's outcome
    /// overwrites (only exclusion or deletion removes it). It runs the item, and its own outcome puts the
    /// item back on its cadence.
    /// </summary>
    public bool IsPendingRequest => IsPending && OneOffKind is FiringKind.Manual or FiringKind.Upstream;

    /// <summary>A pending regular trigger (a recurring item's repeating trigger, or a one-shot item's single run).</summary>
    public bool IsPendingRegular => IsPending && OneOffKind is null;
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace BatchScheduler.BulkActions;

/// <summary>What a bulk action does to each matching item (as <c>ItemLifecycle</c> does it to one).</summary>
internal enum BulkActionKind
{
    /// <summary>Run now as attempt 1 of a fresh cycle: the single-item run-now, also the retry of a dead-lettered item.</summary>
    Run,

    /// <summary>Remove the item's row and trigger (its failure rows stay).</summary>
    Delete,

    /// <summary>Give the item another tier (a re-tier, as a registration with a new tier does).</summary>
    Tier,

    /// <summary>Pause the item (with the action's reason).</summary>
    Pause,

    /// <summary>Resume a paused item.</summary>
    Resume,

    /// <summary>Cancel the item's running attempt.</summary>
    Cancel,
}

/// <summary>Which items a bulk action acts on: every field given must hold (at least one must be given).</summary>
/// <param name="DataType">The item's data type.</param>
/// <param name="State">The item's state (one of <c>WorkItemStates.All</c>).</param>
/// <param name="Tier">The item's tier.</param>
/// <param name="EntityPrefix">A prefix of the item's entity id (case-sensitive, as ids are).</param>
/// <param name="ErrorContains">Text the item's last error contains, case-insensitively.</param>
internal sealed record BulkActionFilter(string? DataType, string? State, string? Tier, string? EntityPrefix, string? ErrorContains)
{
    private static readonly JsonSerializerOptions Compact = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Whether no field is given (such a filter is refused: it would match every item).</summary>
    [JsonIgnore]
    public bool IsEmpty => DataType is null && State is null && Tier is null && EntityPrefix is null && ErrorContains is null;

    /// <summary>The filter as compact JSON, fields that are not given left out: how it is stored and audited.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Compact);

    public static BulkActionFilter FromJson(string json) =>
        JsonSerializer.Deserialize<BulkActionFilter>(json, Compact) ?? new BulkActionFilter(null, null, null, null, null);
}

/// <summary>A validated bulk action: what to do, to which items, and the action's own arguments.</summary>
internal sealed record BulkActionSpec(BulkActionKind Action, BulkActionFilter Filter, string? Tier, string? Reason);

/// <summary>The states of a bulk action.</summary>
internal static class BulkActionStates
{
    public const string Running = "running";
    public const string Done = "done";

    /// <summary>Stopped by an error (the action's <c>error</c> says which); what it applied stays applied.</summary>
    public const string Failed = "failed";

    /// <summary>Its node stopped before it ended; what it applied stays applied, and running it again is safe.</summary>
    public const string Interrupted = "interrupted";
}

/// <summary>
/// A bulk action and its progress, as <c>GET /api/work-items/actions/{id}</c> shows it.
/// <c>matched</c> is the count of items matching when it started; every item reached is counted once in
/// <c>applied</c> (moved), <c>skipped</c> (gone, no longer matching, or already so) or <c>notApplied</c>
/// (its move was refused, e.g. run of a paused item); once done, matched items never reached count as skipped.
/// </summary>
internal sealed record BulkActionStatus(
    string Id, string Action, BulkActionFilter Filter, string? Tier, string? Reason, string RequestedBy, string NodeId, string State,
    long Matched, long Applied, long Skipped, long NotApplied, string? Error, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt)
{
    /// <summary>Whether the action has ended (done, failed or interrupted).</summary>
    public bool Ended => State != BulkActionStates.Running;
}

/// <summary>What an action's move did to one item.</summary>
internal enum ItemOutcome
{
    Applied,
    Skipped,
    NotApplied,
}

/// <summary>Counts of one chunk's outcomes.</summary>
internal readonly record struct ChunkCounts(long Applied, long Skipped, long NotApplied)
{
    public static ChunkCounts Of(IEnumerable<ItemOutcome> outcomes)
    {
        long applied = 0, skipped = 0, notApplied = 0;
        foreach (var o in outcomes)
        {
            switch (o)
            {
                case ItemOutcome.Applied: applied++; break;
                case ItemOutcome.Skipped: skipped++; break;
                default: notApplied++; break;
            }
        }
        return new ChunkCounts(applied, skipped, notApplied);
    }
}

using System.Text.Json;

namespace BatchScheduler.WorkItems;

/// <summary>A work item as the API shows it: its row plus the next fire time of its trigger.</summary>
internal sealed record WorkItem(
    string DataType,
    string EntityId,
    string? Tier,
    string State,
    DateTimeOffset? UpdatesStart,
    DateTimeOffset? UpdatesEnd,
    int Attempt,
    DateTimeOffset? NextRunAt,
    string? LastError,
    string? BatchId,
    JsonElement? Payload,
    PauseNote? Paused = null);

/// <summary>Who paused an item or a data type, when, and why (null fields: not said).</summary>
internal sealed record PauseNote(DateTimeOffset At, string? By, string? Reason);

/// <summary>
/// One item to register: the tier is already resolved, the payload is JSON text. <paramref name="RunAt"/>:
/// its next run does not start before then (null, or past: due now).
/// </summary>
internal sealed record WorkItemRegistration(string EntityId, string? Tier, string? Payload, string? BatchId = null, DateTimeOffset? RunAt = null);

/// <summary>
/// What registering an item found: whether it existed, its tier and state before, when it last
/// completed and whether it has a trigger; <see cref="Armed"/> when the registration already wrote
/// the new item's regular trigger (or, in tier <c>exclude</c>, it needs none). <see cref="OwedRunAt"/>: the runAt a
/// registration gave it before and that it has not started since (past or ahead), else null.
/// </summary>
internal sealed record RegistrationOutcome(
    WorkItemRegistration Item, bool Existed, string? PreviousTier, DateTimeOffset? LastEnd, string? PreviousState = null,
    bool HasTrigger = false, bool Armed = false, DateTimeOffset? OwedRunAt = null);

/// <summary>
/// The job new items' triggers fire, each tier's cadence (null: a single run) and the data type's quiet
/// hours (null: none), for writing their triggers in bulk.
/// </summary>
internal sealed record NewItemTriggers(string JobName, string JobGroup, Func<string?, Time.Cadence?> CadenceOf, Time.QuietHoursCalendar? QuietHours = null);

/// <summary>An item found without the trigger it should have; <paramref name="OwedRunAt"/>: its runAt when it has not started since it was given.</summary>
internal sealed record OrphanedItem(
    string EntityId, string? Tier, string State, DateTimeOffset? LastEnd, string? NodeId, DateTimeOffset? LastStart = null, DateTimeOffset? OwedRunAt = null);

/// <summary>Filter and page for listing items.</summary>
internal sealed record WorkItemQuery(string? DataType, string? State, string? Tier, int Page, int PageSize);

/// <summary>A failed attempt, as recorded in the <c>failures</c> table.</summary>
internal sealed record FailureRecord(
    string DataType, string EntityId, int Attempt, string NodeId, DateTimeOffset FailedAt,
    string ExceptionType, string Message, string? Detail);

/// <summary>An attempt to mark started: which item, which attempt, when.</summary>
/// <summary>
/// An attempt to start. With <paramref name="NotStartedSince"/> it starts only if the item has not
/// started since then (a late firing of a recurring item must not run it again after another firing did).
/// </summary>
internal sealed record AttemptRequest(string DataType, string EntityId, int Attempt, DateTimeOffset StartedAt, DateTimeOffset? NotStartedSince = null)
{
    /// <summary>The guard's value in SQL: far in the future when there is none (any earlier start passes).</summary>
    public static readonly DateTimeOffset NoGuard = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public DateTimeOffset Since => NotStartedSince ?? NoGuard;

    /// <summary>The least fence this start may get: its start time in microseconds since the Unix epoch.</summary>
    public long FenceFloor => FloorAt(StartedAt);

    /// <summary>The least fence a start at <paramref name="startedAt"/> gets (see <c>work_items.fence</c>).</summary>
    public static long FloorAt(DateTimeOffset startedAt) => (startedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
}

/// <summary>A successful attempt's end, to write as <c>updates_end</c> while the row still carries the attempt's <paramref name="Fence"/>.</summary>
internal sealed record AttemptEnd(string DataType, string EntityId, DateTimeOffset EndedAt, long Fence);

/// <summary>What asking to start an attempt found.</summary>
/// <param name="Fence">The started attempt's fencing token (see <c>work_items.fence</c>).</param>
internal sealed record AttemptStart(
    bool IsStarted, bool IsGone, string? BusyNode, string? Tier, string? Payload, bool IsStale = false, DateTimeOffset? LastStart = null,
    long Fence = 0, bool IsExcluded = false, bool IsPaused = false, bool PausedAsItStarted = false)
{
    public static readonly AttemptStart Gone = new(false, true, null, null, null);

    /// <summary>Not started: the item or its data type is paused.</summary>
    public static readonly AttemptStart Paused = new(false, false, null, null, null, IsPaused: true);

    /// <summary>Not started: the item is in tier <c>exclude</c>, which never runs.</summary>
    public static readonly AttemptStart Excluded = new(false, false, null, Tiers.Exclude, null, IsExcluded: true);

    /// <summary>Not started: the item started since the request's <see cref="AttemptRequest.NotStartedSince"/>, at <paramref name="lastStart"/>.</summary>
    public static AttemptStart StaleSince(DateTimeOffset? lastStart) => new(false, false, null, null, null, IsStale: true, LastStart: lastStart);

    public static AttemptStart Started(string? tier, string? payload, long fence) => new(true, false, null, tier, payload, Fence: fence);

    public static AttemptStart BusyOn(string node) => new(false, false, node, null, null);
}

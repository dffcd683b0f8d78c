using BatchScheduler.WorkItems;

namespace BatchScheduler.Lifecycle;

/// <summary>What can happen to a work item: the events <see cref="ItemLifecycle"/> handles.</summary>
internal enum LifecycleEvent
{
    Register,
    Retier,
    Exclude,
    Delete,
    RunNow,
    UpstreamCompleted,
    Repair,
    Start,
    Busy,
    Superseded,
    Succeeded,
    FailedRetry,
    FailedDeadLetter,
    FailedExpired,
    ExpiredBeforeStart,
    DeferredBeforeStart,
    DeferredByExecutor,
    HandedBack,
    Gone,
    BatchRemoved,
    Recovered,
    Pause,
    Resume,
    PauseDataType,
    ResumeDataType,
    PausedBeforeStart,
    CancelRequested,
    Cancelled,
    Purge,
}

/// <summary>One row of the lifecycle table: from which states an event applies, the state it leaves, and what it does to the trigger.</summary>
/// <param name="To">The state written, or null when the state does not change.</param>
internal sealed record Transition(LifecycleEvent Event, string From, string? To, string Trigger, string Guard);

/// <summary>
/// The work item's lifecycle as one table, the place to learn what can happen to an item. Every row is
/// carried out by <see cref="ItemLifecycle"/> under the item's lock (see docs/lifecycle.md for why each
/// is safe); docs/lifecycle.md shows the same table and a test keeps the two equal.
/// </summary>
internal static class Transitions
{
    private const string Any = "any";
    private const string Request = "a pending run-now or upstream arm is kept";

    public static readonly IReadOnlyList<Transition> All =
    [
        new(LifecycleEvent.Register, "(new)", WorkItemStates.NeverRun, "regular trigger, due now, ahead of completed items (with a runAt ahead: due at it, not ahead)", "none"),
        new(LifecycleEvent.Retier, Any, null, "regular trigger at last end + new cadence (now if past; at an owed runAt ahead)", "a pending one-off (retry, run-now, arm) is kept; its end re-arms with the new tier"),
        new(LifecycleEvent.Exclude, Any, null, "removed, whatever it was; a running attempt's end arms nothing", "the start refuses tier exclude"),
        new(LifecycleEvent.Delete, Any, "(row deleted)", "removed", "a running attempt's writes find no row"),
        new(LifecycleEvent.RunNow, "any but tier exclude", null, "one-off run-now, due now", "refused (409) in tier exclude"),
        new(LifecycleEvent.UpstreamCompleted, "not in_flight, dead_lettered or excluded", null, "one-off upstream arm, due now", "only when every upstream item is ready"),
        new(LifecycleEvent.Repair, "no trigger nor firing; or in_flight, owner gone, no firing; no recovery trigger stands for it", null, "regular trigger (an interrupted attempt's: due now; an owed runAt ahead: at it)", "re-read under the lock"),
        new(LifecycleEvent.Start, "not in flight on a live node, not excluded", WorkItemStates.InFlight, "none (Quartz fired it)", "fence = next fence"),
        new(LifecycleEvent.Busy, "in flight on a live node", null, "one-off in 5 s if the firing was its trigger's last", "stands back for a pending trigger; a run-now or arm only for another such request"),
        new(LifecycleEvent.Superseded, "fence moved on", null, "none", "no write lands; the attempt is cancelled"),
        new(LifecycleEvent.Succeeded, WorkItemStates.InFlight, WorkItemStates.Completed, "regular firing: none; other: back to cadence", $"fence; {Request}"),
        new(LifecycleEvent.FailedRetry, WorkItemStates.InFlight, WorkItemStates.Retrying, "one-off retry at backoff", $"fence; {Request}"),
        new(LifecycleEvent.FailedDeadLetter, WorkItemStates.InFlight, WorkItemStates.DeadLettered, "a pending repeating or own one-off removed", $"fence; {Request}"),
        new(LifecycleEvent.FailedExpired, WorkItemStates.InFlight, WorkItemStates.Expired, "back to cadence (one-shot: none)", $"fence; {Request}"),
        new(LifecycleEvent.ExpiredBeforeStart, "not in flight elsewhere", WorkItemStates.Expired, "back to cadence (one-shot: none)", Request),
        new(LifecycleEvent.DeferredBeforeStart, "not in flight elsewhere", WorkItemStates.Deferred, "one-off at the next credit window or the dependency recheck", Request),
        new(LifecycleEvent.DeferredByExecutor, WorkItemStates.InFlight, WorkItemStates.Deferred, "one-off at Retry-After", $"fence; {Request}"),
        new(LifecycleEvent.HandedBack, WorkItemStates.InFlight, WorkItemStates.Deferred, "one-off due now (shutdown, a pause past failover, or its data type paused as it started)", $"fence; {Request}"),
        new(LifecycleEvent.Gone, "(no row), or tier exclude", null, "removed; an excluded item left in_flight by a stopped node becomes deferred (here or by trigger repair)", "re-read under the lock"),
        new(LifecycleEvent.BatchRemoved, "not in_flight", "(row deleted if the batch created it)", "removed", "batch cancel, deadline or archive"),
        new(LifecycleEvent.Recovered, "in_flight on a dead node", WorkItemStates.InFlight, "Quartz's recovery trigger fires it once more", "fence = next fence; the dead node's writes are fenced out"),
        new(LifecycleEvent.Pause, "not paused", WorkItemStates.Paused, "paused (Quartz PAUSED); every trigger placed for it later is paused too", "in_flight stays in_flight until its attempt ends, whose end writes paused; its state is kept in paused_state"),
        new(LifecycleEvent.Resume, WorkItemStates.Paused, "paused_state", "resumed, unless its data type is paused: what fell due fires once, in due order", "run-now is refused (409) while paused"),
        new(LifecycleEvent.PauseDataType, Any, null, "Quartz pauses the data type's trigger group (qrtz_paused_trigger_grps); triggers stored in it later are paused", "no start of any of its items while paused"),
        new(LifecycleEvent.ResumeDataType, Any, null, "Quartz resumes the group; items paused by themselves are paused again", "what fell due fires once, in due order"),
        new(LifecycleEvent.PausedBeforeStart, "paused, or its data type (a firing handed out before the pause)", null, "one-off at the firing's own due time, paused (a pending run-now or arm is kept)", "the start statement refuses paused items"),
        new(LifecycleEvent.CancelRequested, "in_flight on a live node", null, "none; the running node cancels the attempt's token (at once on the node asked, within 1 s elsewhere)", "for the attempt's fence only; refused (409) when no attempt runs"),
        new(LifecycleEvent.Cancelled, WorkItemStates.InFlight, WorkItemStates.Paused, "one-off due now for the same attempt, paused (a pending run-now or arm is kept, paused)", "fence; the attempt is not counted; paused by who cancelled (an item paused already keeps its pause); paused_state deferred"),
        new(LifecycleEvent.Purge, "completed, tier runs once, not paused, not a batch's, unchanged for DataTypes:<name>:Retention:Completed", "(row deleted)", "none (it has none)", "re-read under the lock: a re-registration, run-now, arm or runAt since keeps it"),
    ];

    /// <summary>The table as docs/lifecycle.md shows it (a test keeps the two equal).</summary>
    public static string ToMarkdown() =>
        "| Event | From | To | Trigger | Guard |\n|---|---|---|---|---|\n"
        + string.Concat(All.Select(t => $"| {t.Event} | {t.From} | {t.To ?? "(unchanged)"} | {t.Trigger} | {t.Guard} |\n"));

    /// <summary>The row for <paramref name="event"/>.</summary>
    public static Transition Of(LifecycleEvent @event) => All.First(t => t.Event == @event);
}

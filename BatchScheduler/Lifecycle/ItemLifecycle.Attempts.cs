using BatchScheduler.Retry;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Lifecycle;

/// <summary>An attempt that started: its item, the firing that started it and its fence.</summary>
internal sealed record StartedAttempt(string DataType, string EntityId, FiringData Firing, long Fence);

/// <summary>What a decision taken before an item started found under the item's lock.</summary>
internal enum BeforeStart
{
    /// <summary>Carried out.</summary>
    Done,

    /// <summary>The item is in flight on another live node: nothing written (the firing is busy).</summary>
    Busy,

    /// <summary>The item is not stored: its trigger was removed.</summary>
    Gone,
}

/// <summary>The outcomes of firings and attempts: what the coordinator decided, carried out under the item's lock.</summary>
internal sealed partial class ItemLifecycle
{
    /// <summary>
    /// An attempt succeeded. A regular firing needs no move (Quartz moved its trigger when it fired it);
    /// after any other firing a recurring item goes back to its tier's cadence, unless a run-now or arm
    /// is pending. False when the attempt was superseded or the item is gone: its end must not be written.
    /// </summary>
    public async Task<bool> SucceededAsync(DataTypeDefinition dataType, StartedAttempt attempt, CancellationToken cancellationToken)
    {
        if (attempt.Firing.Kind == FiringKind.Regular)
            return true; // its end is written conditional on its fence (AttemptWriter)
        return await AttemptMoveAsync(dataType, attempt, LifecycleEvent.Succeeded, new Next.Cadence(), cancellationToken,
            write: null);
    }

    /// <summary>An attempt failed: <paramref name="decision"/> (retry, dead-letter, expiry) and its failure row, both only while its fence is current.</summary>
    public Task<bool> FailedAsync(DataTypeDefinition dataType, StartedAttempt attempt, RetryDecision decision, FailureRecord failure, CancellationToken cancellationToken)
    {
        var (@event, next) = decision switch
        {
            RetryDecision.Retry retry => (LifecycleEvent.FailedRetry,
                (Next)new Next.OneOff(retry.At, attempt.Firing with { Attempt = retry.NextAttempt, Kind = FiringKind.Retry })),
            RetryDecision.DeadLetter => (LifecycleEvent.FailedDeadLetter, new Next.NoRepeat()),
            _ => (LifecycleEvent.FailedExpired, new Next.Cadence()),
        };
        return AttemptMoveAsync(dataType, attempt, @event, next, cancellationToken,
            write: row => row.RecordFailureAsync(failure, Transitions.Of(@event).To!, decision.Reason, cancellationToken));
    }

    /// <summary>
    /// A started attempt is deferred without counting it: the executor asked (HTTP 429), or the node handed it
    /// back on shutdown or after a pause. Only while its fence is current.
    /// </summary>
    public Task<bool> DeferredAsync(DataTypeDefinition dataType, StartedAttempt attempt, LifecycleEvent @event, TimeSpan delay, string reason, CancellationToken cancellationToken)
    {
        var at = _time.GetUtcNow() + delay;
        return AttemptMoveAsync(dataType, attempt, @event, new Next.OneOff(at, attempt.Firing with { Kind = FiringKind.Deferred }), cancellationToken,
            write: row => row.SetStateAsync(Transitions.Of(@event).To!, reason, attempt.Firing.Attempt - 1, _time.GetUtcNow(), cancellationToken));
    }

    private Task<bool> AttemptMoveAsync(
        DataTypeDefinition dataType, StartedAttempt attempt, LifecycleEvent @event, Next next, CancellationToken cancellationToken, Func<LockedRow, Task<bool>>? write) =>
        UnderLockAsync(dataType.Name, attempt.EntityId, async (row, now) =>
        {
            if (row.Row is not { } item)
                return false;
            if (item.Fence != attempt.Fence)
            {
                SupersededLog(_logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, attempt.Fence, _node.Id, item.Fence, @event.ToString());
                return false;
            }
            // The trigger moves before the state is written: a crash in between leaves an item that runs
            // again (executors are idempotent), never a recurring item without a trigger.
            var move = await PlaceAsync(dataType, attempt.EntityId, item.Tier, next, item.Paused, now, cancellationToken);
            if (move is TriggerMove.Armed)
                await HoldIfPausedAsync(dataType.Name, attempt.EntityId, item, cancellationToken);
            MovedLog(_logger, @event, attempt.DataType, attempt.EntityId, _node.Id, move);
            return write is null || await write(row);
        }, cancellationToken);

    /// <summary>
    /// A firing that did not start its item is deferred (no credits, upstream items not ready): a one-off at
    /// <paramref name="at"/> and state <c>deferred</c>, unless the item is in flight on another live node.
    /// </summary>
    public Task<BeforeStart> DeferBeforeStartAsync(DataTypeDefinition dataType, string entityId, FiringData firing, DateTimeOffset at, string reason, CancellationToken cancellationToken) =>
        BeforeStartAsync(dataType, entityId, LifecycleEvent.DeferredBeforeStart, new Next.OneOff(at, firing with { Kind = FiringKind.Deferred }),
            (row, now) => row.SetStateAsync(WorkItemStates.Deferred, reason, firing.Attempt - 1, now, cancellationToken), cancellationToken);

    /// <summary>A firing past the item's expiry window: state <c>expired</c>, a recurring item back to its cadence.</summary>
    public Task<BeforeStart> ExpireBeforeStartAsync(DataTypeDefinition dataType, string entityId, FiringData firing, string reason, CancellationToken cancellationToken) =>
        BeforeStartAsync(dataType, entityId, LifecycleEvent.ExpiredBeforeStart,
            firing.Kind == FiringKind.Regular ? null : new Next.Cadence(),
            (row, now) => row.SetStateAsync(WorkItemStates.Expired, reason, null, now, cancellationToken), cancellationToken);

    /// <summary>A late firing of a recurring item: its trigger moves to one cadence from now, so it runs once rather than once per missed interval.</summary>
    public Task<BeforeStart> CatchUpAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken) =>
        BeforeStartAsync(dataType, entityId, LifecycleEvent.Start, new Next.Cadence(ReplaceRegular: true), write: null, cancellationToken);

    private Task<BeforeStart> BeforeStartAsync(
        DataTypeDefinition dataType, string entityId, LifecycleEvent @event, Next? next, Func<LockedRow, DateTimeOffset, Task<bool>>? write,
        CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, now) =>
        {
            if (row.Row is not { } item)
            {
                await _triggers.RemoveAsync(dataType.Name, entityId, cancellationToken);
                return BeforeStart.Gone;
            }
            if (item.InFlightElsewhere(_node.Id))
                return BeforeStart.Busy;
            if (next is not null)
            {
                var move = await PlaceAsync(dataType, entityId, item.Tier, next, item.Paused, now, cancellationToken, row);
                if (move is TriggerMove.Armed)
                    await HoldIfPausedAsync(dataType.Name, entityId, item, cancellationToken);
                MovedLog(_logger, @event, dataType.Name, entityId, _node.Id, move);
            }
            if (write is not null)
                await write(row, now);
            return BeforeStart.Done;
        }, cancellationToken);

    /// <summary>
    /// A firing found its item busy (in flight here or elsewhere) or could not be handled here (an unknown
    /// data type): when it was its trigger's last firing, it comes back at <paramref name="at"/>, so the
    /// item keeps a trigger. It stands back for a pending trigger, except that a run-now or upstream arm
    /// stands back only for another such request: the running attempt's end may already have put the
    /// cadence back while this firing was being turned away, and a request is never dropped for it.
    /// </summary>
    public Task NotNowAsync(string dataType, string entityId, FiringData firing, bool wasLastFiring, DateTimeOffset at, CancellationToken cancellationToken) =>
        wasLastFiring
            ? UnderLockAsync(dataType, entityId, async (row, _) =>
            {
                var current = await _triggers.CurrentAsync(dataType, entityId, cancellationToken);
                if (current.IsPendingRequest || (current.IsPending && firing.Kind is not (FiringKind.Manual or FiringKind.Upstream)))
                    return false;
                await _triggers.ScheduleOneOffAsync(dataType, entityId, at, firing, row.Row?.Paused ?? false, cancellationToken);
                MovedLog(_logger, LifecycleEvent.Busy, dataType, entityId, _node.Id, TriggerMove.Scheduled);
                return true;
            }, cancellationToken)
            : Task.CompletedTask;

    /// <summary>
    /// A firing whose item is gone (or excluded): its trigger is removed, if the item is still so once locked.
    /// An excluded item left <c>in_flight</c> by an attempt that was cut off (its node died or this node
    /// restarted; typically this is that attempt's recovery firing) is not run again: it becomes <c>deferred</c>,
    /// saying why, and runs again only if it is given another tier.
    /// </summary>
    public Task NotRunnableAsync(string dataType, string entityId, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType, entityId, async (row, now) =>
        {
            if (row.Row is not null && row.Row.Tier != Tiers.Exclude)
                return false;
            await _triggers.RemoveAsync(dataType, entityId, cancellationToken);
            MovedLog(_logger, row.Row is null ? LifecycleEvent.Gone : LifecycleEvent.Exclude, dataType, entityId, _node.Id, TriggerMove.Removed);
            if (row.Row is { State: WorkItemStates.InFlight } cut && (cut.NodeId is null || cut.NodeId == _node.Id || !cut.OwnerAlive))
            {
                await row.SetStateAsync(WorkItemStates.Deferred, InterruptedExcluded, null, now, cancellationToken);
            }
            return true;
        }, cancellationToken);
}

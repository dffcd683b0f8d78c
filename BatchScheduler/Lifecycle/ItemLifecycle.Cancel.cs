using BatchScheduler.Coordination;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Quartz;

namespace BatchScheduler.Lifecycle;

/// <summary>What a cancel of an item's running attempt found.</summary>
internal enum CancelResult
{
    /// <summary>An attempt runs: it is asked to stop (its node cancels its token within about a second).</summary>
    Cancelled,

    /// <summary>No attempt of the item runs (on a live node): nothing to cancel.</summary>
    NotRunning,

    /// <summary>No such item.</summary>
    NotFound,
}

/// <summary>Cancel of a running attempt by an operator, and its outcome.</summary>
/// <remarks>
/// <para>
/// The cancel is a request stored with the item (<c>work_items.cancel_fence</c>, <c>cancel_by</c>,
/// <c>cancel_reason</c>) for the attempt running now: the node running it reads the requests of its running
/// attempts every second (<see cref="AttemptLeaseWatch"/>) and cancels the attempt's token; on the node that
/// takes the request, at once. The request names the attempt by its fence, so it never stops a later one.
/// </para>
/// <para>
/// The outcome (<see cref="CancelledAsync"/>): the attempt is not counted, and the item is <c>paused</c>
/// ("Cancelled by &lt;who&gt;: &lt;reason&gt;"), its trigger a paused one-off due now, so nothing runs again what
/// an operator stopped until it is resumed; on resume it runs at once, as the same attempt.
/// </para>
/// </remarks>
internal sealed partial class ItemLifecycle
{
    /// <summary>
    /// Asks the item's running attempt, on whichever node runs it, to stop. <see cref="CancelResult.Cancelled"/> when
    /// an attempt is running (on a live node); <see cref="CancelResult.NotRunning"/> when none is (it finished already:
    /// nothing changes); <see cref="CancelResult.NotFound"/> when there is no such item.
    /// </summary>
    /// <param name="by">Who asks (the caller's identity: an API key's name, <c>loopback</c>, <c>cli</c>).</param>
    /// <param name="reason">Why, or null.</param>
    public async Task<CancelResult> CancelAsync(string dataType, string entityId, string by, string? reason, CancellationToken cancellationToken)
    {
        var (result, fence) = await UnderLockAsync(dataType, entityId, async (row, now) =>
        {
            if (row.Row is not { } item)
                return (CancelResult.NotFound, 0L);
            var running = item.State == WorkItemStates.InFlight && item.NodeId is { } owner
                && (owner == _node.Id ? _running.Runs(dataType, entityId, item.Fence) : item.OwnerAlive);
            if (!running || !await row.RequestCancelAsync(by, reason, now, cancellationToken))
                return (CancelResult.NotRunning, 0L);
            AttemptControlLog.CancelAsked(_logger, dataType, entityId, item.Fence, by, item.NodeId!);
            return (CancelResult.Cancelled, item.Fence);
        }, cancellationToken);
        // Here: at once (elsewhere the running node reads the request).
        if (result == CancelResult.Cancelled)
            _running.Cancel(dataType, entityId, fence, OperatorCancel(by, reason));
        return result;
    }

    /// <summary>The cancel an operator's request stands for, with the reason its outcome carries.</summary>
    internal static AttemptCancel OperatorCancel(string by, string? reason) =>
        new(CancelCause.Operator, string.IsNullOrWhiteSpace(reason) ? $"Cancelled by {by}" : $"Cancelled by {by}: {reason}", by);

    /// <summary>
    /// An attempt an operator cancelled ended: not counted (the item's attempt stays what it was before it), the
    /// item <c>paused</c> with who and why (an item paused already keeps its pause), its trigger a paused one-off due
    /// now for the same attempt (a pending run-now or arm is kept, paused), and a failure row saying so (done:
    /// nothing to triage). Only while the attempt's fence is current.
    /// </summary>
    public Task<bool> CancelledAsync(DataTypeDefinition dataType, StartedAttempt attempt, AttemptCancel cancel, FailureRecord record, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, attempt.EntityId, async (row, now) =>
        {
            if (row.Row is not { } item)
                return false;
            if (item.Fence != attempt.Fence)
            {
                SupersededLog(_logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, attempt.Fence, _node.Id, item.Fence, nameof(LifecycleEvent.Cancelled));
                return false;
            }
            var move = await PlaceAsync(dataType, attempt.EntityId, item.Tier, new Next.OneOff(now, attempt.Firing with { Kind = FiringKind.Deferred }), item.Paused, now, cancellationToken);
            if (move is TriggerMove.Scheduled or TriggerMove.KeptRequest)
                await _triggers.PauseAsync(dataType.Name, [attempt.EntityId], new PauseDetails { Reason = cancel.Reason, RequestedBy = cancel.By }, cancellationToken);
            MovedLog(_logger, LifecycleEvent.Cancelled, attempt.DataType, attempt.EntityId, _node.Id, move);
            return await row.RecordCancelAsync(record, cancel.By ?? "unknown", cancel.Reason, attempt.Firing.Attempt - 1, cancellationToken);
        }, cancellationToken);
}

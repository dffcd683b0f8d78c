using System.Diagnostics;
using BatchScheduler.Alerts;
using BatchScheduler.Configuration;
using BatchScheduler.Credits;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Lifecycle;
using BatchScheduler.Observability;
using BatchScheduler.Retry;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Coordination;

/// <summary>
/// The second half of a firing: runs the admitted attempt's executor and records what came of it.
/// Success writes <c>updates_end</c> (batched, fenced); failure is a retry, dead-letter or expiry; a
/// deferral or a cancellation hands the item back without counting the attempt. Every move goes through
/// <see cref="ItemLifecycle"/>, and every write is conditional on the attempt's fence. Each attempt is one
/// span (<see cref="AttemptTracing"/>) from the executor's call to its outcome's write.
/// </summary>
internal sealed class AttemptOutcomes(
    AttemptWriter attempts,
    ItemLifecycle lifecycle,
    NodeIdentity node,
    VendorCredits credits,
    ItemDependencies dependencies,
    SchedulerMetrics metrics,
    AlertSender alerts,
    TimeProvider time,
    ILogger<CoordinatorJob> logger)
{
    /// <summary>Runs the attempt; true when it succeeded and its end was handed to the <see cref="AttemptWriter"/>.</summary>
    public async Task<bool> RunAsync(DataTypeDefinition dataType, Admitted admitted, RunningClaim claim)
    {
        var (attempt, row, reservation, started, dueToStart) = (admitted.Attempt, admitted.Row, admitted.Reservation, admitted.StartedAt, admitted.DueToStart);
        var (item, entityId, firing) = (attempt.DataType, attempt.EntityId, attempt.Firing);
        claim.Started(attempt.Fence);
        CoordinatorLog.Starting(logger, item, entityId, firing.Attempt, node.Id);
        var context = new WorkItemContext(item, entityId, WorkItemPayload.Parse(row.Payload), firing.Attempt, node.Id) { Fence = attempt.Fence };
        // Current while the executor runs, so its HTTP calls carry the span's traceparent; null when nothing listens.
        using var span = AttemptTracing.Start(item, entityId, firing.Attempt, node.Id);
        Exception? thrown = null;
        using (var deadline = new AttemptDeadline(claim, dataType.Options.Timeout, time,
            overdue: () => _ = OverdueAsync(dataType, admitted, claim, context, span)))
        {
            try
            {
                await dataType.Executor.ExecuteAsync(context, claim.Token);
            }
#pragma warning disable CA1031 // the executor boundary: any failure becomes a persisted state with a reason
            catch (Exception ex)
#pragma warning restore CA1031
            {
                thrown = ex;
            }
        }
        if (claim.Overdue)
        {
            AttemptControlLog.ReturnedLate(logger, item, entityId, firing.Attempt, node.Id, (time.GetUtcNow() - started).TotalSeconds);
            metrics.OverdueReturned(item);
        }
        if (!claim.TrySettle())
            return false; // its outcome was written when the grace period after its timeout or cancel ended: a late return writes nothing
        await SettleAsync(reservation, context);
        switch (thrown)
        {
            case var _ when claim.Cancellation is { EndsAfterGrace: true } stop:
                // Timed out or cancelled by an operator: so it is, whatever the executor did once its token was cancelled.
                await StoppedAsync(dataType, admitted, stop, thrown, span);
                return false;
            case WorkItemDeferredException deferred:
                await DeferAsync(dataType, attempt, LifecycleEvent.DeferredByExecutor, deferred.RetryAfter, deferred.Message, started, dueToStart, span);
                return false;
            case OperationCanceledException when claim.Token.IsCancellationRequested:
                var reason = claim.CancelReason ?? RunningItems.ShutdownReason;
                if (reason == RunningItems.ShutdownReason)
                    CoordinatorLog.HandedBack(logger, item, entityId, firing.Attempt, node.Id);
                else
                    CoordinatorLog.Cancelled(logger, item, entityId, firing.Attempt, attempt.Fence, node.Id, reason);
                await DeferAsync(dataType, attempt, LifecycleEvent.HandedBack, TimeSpan.Zero, reason, started, dueToStart, span);
                return false;
            case not null:
                await FailAsync(dataType, attempt, AttemptError.Of(thrown), started, dueToStart, span);
                return false;
        }

        // The outcome is persisted even while the node shuts down: the work has been done.
        var finished = time.GetUtcNow();
        if (!await lifecycle.SucceededAsync(dataType, attempt, CancellationToken.None))
            return false; // superseded: another start of the item owns it now
        var hasDependencies = dependencies.DependentsOf(item).Count > 0 || dependencies.UpstreamsOf(item).Count > 0;
        await attempts.CompleteAsync(new AttemptEnd(item, entityId, finished, attempt.Fence),
            hasDependencies ? () => dependencies.CompletedAsync(item, entityId, started) : null);
        CoordinatorLog.Completed(logger, item, entityId, firing.Attempt, node.Id, (finished - started).TotalSeconds);
        metrics.AttemptFinished(item, FiringOutcome.Succeeded, finished - started, dueToStart);
        AttemptTracing.Settled(span, FiringOutcome.Succeeded);
        return true;
    }

    /// <summary>
    /// The grace period after a timeout or cancel ended and the executor has not returned: the attempt's outcome
    /// is written now (unless its return won the race), and the executor keeps its slot until it returns.
    /// </summary>
    private async Task OverdueAsync(DataTypeDefinition dataType, Admitted admitted, RunningClaim claim, WorkItemContext context, Activity? span)
    {
        if (claim.Cancellation is not { } stop || !claim.TrySettle())
            return;
        var attempt = admitted.Attempt;
        claim.MarkOverdue();
        metrics.Overdue(attempt.DataType);
        AttemptControlLog.IgnoredCancel(logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, node.Id, stop.Reason, AttemptDeadline.Grace.TotalSeconds);
        try
        {
            await SettleAsync(admitted.Reservation, context);
            await StoppedAsync(dataType, admitted, stop, thrown: null, span,
                detail: $"{stop.Reason}. The executor ignored its cancellation: still running on {node.Id} {AttemptDeadline.Grace.TotalSeconds:0} s later, "
                    + "it keeps its slot there until it returns; what it does then is not written.");
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            // Not written: left to the executor's return (the item stays in flight here until then).
            AttemptControlLog.OverdueNotWritten(logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, node.Id, ex.Message);
            claim.Unsettle();
        }
    }

    /// <summary>An attempt stopped by its timeout (a failure: retry or dead-letter) or by an operator (not counted, the item paused).</summary>
    private async Task StoppedAsync(DataTypeDefinition dataType, Admitted admitted, AttemptCancel stop, Exception? thrown, Activity? span, string? detail = null)
    {
        detail ??= thrown?.ToString() ?? stop.Reason;
        var attempt = admitted.Attempt;
        if (stop.Cause == CancelCause.TimedOut)
        {
            metrics.AttemptCancelled(attempt.DataType, stop.Cause);
            await FailAsync(dataType, attempt, new AttemptError(typeof(TimeoutException).FullName!, stop.Reason, detail, Summary: stop.Reason),
                admitted.StartedAt, admitted.DueToStart, span);
            return;
        }
        var now = time.GetUtcNow();
        var failure = new FailureRecord(attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, node.Id, now,
            AttemptError.CancelledType, stop.Reason, detail);
        CoordinatorLog.Cancelled(logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, attempt.Fence, node.Id, stop.Reason);
        if (!await lifecycle.CancelledAsync(dataType, attempt, stop, failure, CancellationToken.None))
            return;
        metrics.AttemptCancelled(attempt.DataType, stop.Cause);
        metrics.AttemptFinished(attempt.DataType, FiringOutcome.Deferred, now - admitted.StartedAt, admitted.DueToStart);
        AttemptTracing.Settled(span, FiringOutcome.Deferred);
    }

    private async Task FailAsync(DataTypeDefinition dataType, StartedAttempt attempt, AttemptError error, DateTimeOffset started, TimeSpan dueToStart, Activity? span)
    {
        var (item, entityId, firing) = (attempt.DataType, attempt.EntityId, attempt.Firing);
        var failedAt = time.GetUtcNow();
        var decision = dataType.CreateRetryPlanner().Decide(firing.Attempt, failedAt, firing.DueAt, error.Summary);
        var failure = new FailureRecord(item, entityId, firing.Attempt, node.Id, failedAt, error.Type, error.Message, error.Detail);
        CoordinatorLog.Failed(logger, item, entityId, firing.Attempt, node.Id, failure.ExceptionType, decision.Reason);
        // Whatever keeps the item alive (a retry, the next cycle) is scheduled before the state is written,
        // and a recurring item's trigger goes before the dead-letter is written; a pending run-now stays.
        if (!await lifecycle.FailedAsync(dataType, attempt, decision, failure, CancellationToken.None))
            return;
        switch (decision)
        {
            case RetryDecision.Retry retry:
                CoordinatorLog.Retrying(logger, item, entityId, firing.Attempt, node.Id, retry.At, retry.Reason);
                break;
            case RetryDecision.DeadLetter:
                CoordinatorLog.DeadLettered(logger, item, entityId, firing.Attempt, node.Id, decision.Reason);
                alerts.Enqueue(AlertMessage.ForDeadLetter(item, entityId, firing.Attempt,
                    error.Summary, node.Id, failedAt)); // queued only: delivery never holds up the coordinator
                break;
            default:
                CoordinatorLog.Expired(logger, item, entityId, firing.Attempt, node.Id, decision.Reason);
                break;
        }
        var outcome = decision switch
        {
            RetryDecision.Retry => FiringOutcome.Failed,
            RetryDecision.DeadLetter => FiringOutcome.DeadLettered,
            _ => FiringOutcome.Expired,
        };
        metrics.AttemptFinished(item, outcome, failedAt - started, dueToStart);
        AttemptTracing.Settled(span, outcome, error.Summary);
    }

    private async Task DeferAsync(
        DataTypeDefinition dataType, StartedAttempt attempt, LifecycleEvent @event, TimeSpan delay, string reason, DateTimeOffset started, TimeSpan dueToStart,
        Activity? span)
    {
        var now = time.GetUtcNow();
        // The attempt is not counted: the next firing carries the same number again.
        if (!await lifecycle.DeferredAsync(dataType, attempt, @event, delay, reason, CancellationToken.None))
            return;
        CoordinatorLog.Deferred(logger, attempt.DataType, attempt.EntityId, attempt.Firing.Attempt, node.Id, now + delay, reason);
        metrics.AttemptFinished(attempt.DataType, FiringOutcome.Deferred, now - started, dueToStart);
        AttemptTracing.Settled(span, FiringOutcome.Deferred);
    }

    /// <summary>What the call cost: the executor's report, or the reservation.</summary>
    private Task SettleAsync(CreditReservation? reservation, WorkItemContext context) =>
        reservation is null ? Task.CompletedTask : credits.SettleAsync(reservation, context.Cost.Credits, CancellationToken.None);
}

/// <summary>What a failed attempt's failure row and reason say: the exception's type and message, or a timeout's.</summary>
/// <param name="Type">The failure row's <c>exception_type</c> (a full type name).</param>
/// <param name="Summary">The error as retry reasons and alerts show it: <c>Type: message</c>; a timeout's <c>timed out after …</c>.</param>
internal sealed record AttemptError(string Type, string Message, string Detail, string Summary)
{
    /// <summary>The <c>exception_type</c> of an attempt an operator cancelled.</summary>
    public const string CancelledType = "Cancelled";

    public static AttemptError Of(Exception ex) =>
        new(ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex.ToString(), $"{ex.GetType().Name}: {ex.Message}");
}

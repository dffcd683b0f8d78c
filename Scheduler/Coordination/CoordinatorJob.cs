using System.Text.Json;
using BatchScheduler.Alerts;
using BatchScheduler.Credits;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Executors.Retry;
using BatchScheduler.Hosting;
using BatchScheduler.Observability;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Logging;
using Quartz;

namespace BatchScheduler.Coordination;

/// <summary>
/// The one Quartz job for every data type. Around each execution it writes
/// <c>updates_start</c>/<c>updates_end</c>, calls the executor, records failures and moves the
/// item's own trigger: retries, deferrals and dead-letters are trigger reschedules, never sleeps.
/// </summary>
public sealed class CoordinatorJob(
    DataTypeCatalog catalog,
    WorkItemStore store,
    AttemptWriter attempts,
    WorkItemScheduler scheduler,
    NodeIdentity node,
    RunningItems running,
    VendorCredits credits,
    ItemDependencies dependencies,
    SchedulerMetrics metrics,
    AlertSender alerts,
    TimeProvider time,
    ILogger<CoordinatorJob> logger) : IJob
{
    /// <summary>A regular firing this late is checked against the item's last start (see <see cref="RunAsync"/>).</summary>
    internal static readonly TimeSpan LateFiring = TimeSpan.FromSeconds(1);

    /// <summary>How long a firing that found its item busy elsewhere waits before it tries again.</summary>
    internal static readonly TimeSpan BusyRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>How long a firing for a data type this node does not know waits before it fires again.</summary>
    internal static readonly TimeSpan UnknownDataTypeRetryDelay = TimeSpan.FromSeconds(30);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        // After a crash Quartz re-runs the job under a recovery trigger of its own group; the item
        // is the one the original trigger stood for (its job data, attempt and due time, come along).
        var key = context is { Recovering: true, RecoveringTriggerKey: { } original } ? original : context.Trigger.Key;
        var item = new ItemRef(key.Group, key.Name);
        var firing = FiringData.From(context, time.GetUtcNow());
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["DataType"] = item.DataType, ["EntityId"] = item.EntityId, ["Attempt"] = firing.Attempt, ["NodeId"] = node.Id,
        });
        if (!catalog.TryGet(item.DataType, out var dataType))
        {
            // Nodes configured differently (e.g. mid rolling deploy): leave the item for a node
            // that knows its data type rather than drop a firing that may be its last.
            CoordinatorLog.UnknownDataType(logger, item.DataType, item.EntityId, firing.Attempt, node.Id);
            if (context.NextFireTimeUtc is null)
                await scheduler.ScheduleOneOffAsync(item.DataType, item.EntityId, time.GetUtcNow() + UnknownDataTypeRetryDelay, firing, CancellationToken.None);
            return;
        }
        // Quartz's overlap policy keeps a trigger from firing while it runs; this claim also
        // covers a recovery firing, which runs under a trigger of its own.
        using var claim = running.TryClaim(item.DataType, item.EntityId, cancellationToken);
        if (claim is null)
        {
            await SkipBusyAsync(context, item, firing, node.Id);
            return;
        }
        var handedToWriter = false;
        try
        {
            handedToWriter = await RunAsync(context, dataType, item, firing, claim.Token);
        }
        finally
        {
            // A success's claim is released by the writer once its updates_end is written.
            if (!handedToWriter)
                running.Release(item.DataType, item.EntityId);
        }
    }

    /// <summary>
    /// The item runs elsewhere (or already here): this firing does not start it. A firing that
    /// is its trigger's last comes back a little later, so the item keeps a trigger.
    /// </summary>
    private async Task SkipBusyAsync(IJobExecutionContext context, ItemRef item, FiringData firing, string busyNode)
    {
        CoordinatorLog.SkippedBusy(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, busyNode);
        if (context.NextFireTimeUtc is null)
            await scheduler.ScheduleOneOffAsync(item.DataType, item.EntityId, time.GetUtcNow() + BusyRetryDelay, firing, CancellationToken.None);
    }

    /// <summary>Runs the attempt; true when it succeeded and its end was handed to the <see cref="AttemptWriter"/>.</summary>
    private async Task<bool> RunAsync(IJobExecutionContext context, DataTypeDefinition dataType, ItemRef item, FiringData firing, CancellationToken cancellationToken)
    {
        var planner = dataType.CreateRetryPlanner();
        var started = time.GetUtcNow();
        // A retry, deferral or run-now is due at its own firing time (its DueAt is the cycle's, for expiry).
        var dueToStart = started - (firing.Kind == FiringKind.Regular ? firing.DueAt : context.ScheduledFireTimeUtc ?? firing.DueAt);
        DateTimeOffset? notStartedSince = null;
        if (firing.Kind == FiringKind.Regular && context.NextFireTimeUtc is { } next && firing.DueAt is var due
            && due < started - LateFiring
            && await store.GetAsync(item.DataType, item.EntityId, CancellationToken.None) is { } stored)
        {
            // The start below is conditional on that too, so two such firings on two nodes cannot both
            // run the item (the check here alone left a window between this read and the start).
            notStartedSince = due;
            // A late firing of a recurring item (a backlog, or downtime longer than the cadence).
            // Quartz repeats at a fixed rate, so its next firing may already be due: move the trigger
            // to one cadence from now, and the item runs once rather than once per missed interval.
            if (next <= started)
                await RearmAsync(dataType, item, stored.Tier, started);
            // A firing handed out before such a move (another node may take it at once) is stale if
            // the item has started since it fell due.
            if (stored.UpdatesStart is { } lastStart && lastStart >= due)
            {
                CoordinatorLog.SkippedStale(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, due, lastStart);
                return false;
            }
        }

        if (planner.IsExpired(started, firing.DueAt))
        {
            var reason = $"Expired: attempt {firing.Attempt} would start at {started:u}, past the expiry window of {dataType.Options.Expiry} from {firing.DueAt:u}";
            await ExpireAsync(dataType, item, firing, reason, started);
            return false;
        }

        // Upstream items first: a dependent item never runs before they have completed.
        if (dependencies.UpstreamsOf(item.DataType).Count > 0)
        {
            var current = await store.GetAsync(item.DataType, item.EntityId, CancellationToken.None);
            var waiting = await dependencies.WaitingForAsync(item.DataType, item.EntityId, current?.UpdatesStart, CancellationToken.None);
            if (waiting.Count > 0)
            {
                await DeferAsync(item, firing, ItemDependencies.Recheck,
                    $"Waiting for {string.Join(", ", waiting.Select(u => $"{u}/{item.EntityId}"))} to complete", FiringKind.Deferred);
                return false;
            }
        }

        // Credits next: an item that cannot pay waits for the next window, with no attempt counted
        // and no updates_start written, since nothing ran.
        CreditReservation? reservation = null;
        if (dataType.Options.Vendor is { Length: > 0 } vendor)
        {
            reservation = await credits.TryReserveAsync(vendor, dataType.Options.CreditsPerCall, CancellationToken.None);
            if (reservation is null)
            {
                await DeferForCreditsAsync(item, firing, vendor, started);
                return false;
            }
        }

        // This node holds the item's claim, so it does not run it elsewhere in this process.
        var row = await attempts.BeginAsync(new AttemptRequest(item.DataType, item.EntityId, firing.Attempt, started, notStartedSince));
        if (!row.IsStarted && reservation is not null)
            await credits.SettleAsync(reservation, 0, CancellationToken.None); // no call: the credits go back
        if (row.IsStale)
        {
            CoordinatorLog.SkippedStale(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, notStartedSince!.Value,
                row.LastStart ?? notStartedSince.Value);
            return false;
        }
        if (row.IsGone)
        {
            CoordinatorLog.ItemGone(logger, item.DataType, item.EntityId, firing.Attempt, node.Id);
            await scheduler.RemoveAsync(item.DataType, item.EntityId, CancellationToken.None);
            return false;
        }
        if (!row.IsStarted)
        {
            await SkipBusyAsync(context, item, firing, row.BusyNode!);
            return false;
        }
        if (reservation is not null && credits.WindowAt(reservation.Vendor, time.GetUtcNow()).Start.ToUnixTimeMilliseconds() != reservation.WindowStart)
        {
            // The window turned while the start was written: the vendor counts this call in the new
            // one, so it is paid from the new one.
            await credits.SettleAsync(reservation, 0, CancellationToken.None);
            reservation = await credits.TryReserveAsync(reservation.Vendor, reservation.Credits, CancellationToken.None);
            if (reservation is null)
            {
                await DeferForCreditsAsync(item, firing, dataType.Options.Vendor!, time.GetUtcNow());
                return false;
            }
        }
        CoordinatorLog.Starting(logger, item.DataType, item.EntityId, firing.Attempt, node.Id);

        var executorContext = new WorkItemContext(item.DataType, item.EntityId, ParsePayload(row.Payload), firing.Attempt, node.Id);
        try
        {
            await dataType.Executor.ExecuteAsync(executorContext, cancellationToken);
        }
        catch (WorkItemDeferredException deferred)
        {
            await SettleAsync(reservation, executorContext);
            await DeferAsync(item, firing, deferred.RetryAfter, deferred.Message, FiringKind.Deferred, new Started(started, dueToStart));
            return false;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            CoordinatorLog.HandedBack(logger, item.DataType, item.EntityId, firing.Attempt, node.Id);
            await SettleAsync(reservation, executorContext);
            await DeferAsync(item, firing, TimeSpan.Zero, "Handed back: the node shut down before the attempt finished", FiringKind.Deferred, new Started(started, dueToStart));
            return false;
        }
#pragma warning disable CA1031 // the executor boundary: any failure becomes a persisted state with a reason
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await SettleAsync(reservation, executorContext);
            await FailAsync(dataType, planner, item, firing, row.Tier, ex, new Started(started, dueToStart));
            return false;
        }
        await SettleAsync(reservation, executorContext);

        // The trigger moves before the state is written: a crash in between leaves an item that
        // runs again (executors are idempotent), never a recurring item without a trigger. The
        // outcome is persisted even while the node shuts down: the work has been done.
        var finished = time.GetUtcNow();
        if (firing.Kind != FiringKind.Regular)
            await RearmAsync(dataType, item, row.Tier, finished);
        var hasDependencies = dependencies.DependentsOf(item.DataType).Count > 0 || dependencies.UpstreamsOf(item.DataType).Count > 0;
        await attempts.CompleteAsync(new AttemptEnd(item.DataType, item.EntityId, finished),
            hasDependencies ? () => dependencies.CompletedAsync(item.DataType, item.EntityId, started) : null);
        CoordinatorLog.Completed(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, (finished - started).TotalSeconds);
        metrics.AttemptFinished(item.DataType, FiringOutcome.Succeeded, finished - started, dueToStart);
        return true;
    }

    private async Task FailAsync(DataTypeDefinition dataType, RetryPlanner planner, ItemRef item, FiringData firing, string? tier, Exception ex, Started ran)
    {
        var failedAt = time.GetUtcNow();
        var decision = planner.Decide(firing.Attempt, failedAt, firing.DueAt, $"{ex.GetType().Name}: {ex.Message}");
        var state = decision switch
        {
            RetryDecision.Retry => WorkItemStates.Retrying,
            RetryDecision.DeadLetter => WorkItemStates.DeadLettered,
            _ => WorkItemStates.Expired,
        };
        var failure = new FailureRecord(item.DataType, item.EntityId, firing.Attempt, node.Id, failedAt,
            ex.GetType().FullName ?? ex.GetType().Name, ex.Message, ex.ToString());
        CoordinatorLog.Failed(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, failure.ExceptionType, decision.Reason);

        // Whatever keeps the item alive (a retry, the next cycle) is scheduled before the state is
        // written, and a recurring item's trigger goes before the dead-letter is written. Either way a
        // crash in between leaves an item that runs once more (Quartz recovers the firing), never one
        // that is silently dropped. A dead-letter touches no other trigger: the spent one-off or
        // one-shot that fired goes with Quartz's completion of this firing, unless a run-now (or a
        // re-registration) replaced it meanwhile. So a run-now taken once the item reads
        // dead_lettered, or while this attempt still runs, is never undone by it.
        switch (decision)
        {
            case RetryDecision.Retry retry:
                await scheduler.ScheduleOneOffAsync(item.DataType, item.EntityId, retry.At,
                    firing with { Attempt = retry.NextAttempt, Kind = FiringKind.Retry }, CancellationToken.None);
                await store.RecordFailureAsync(failure, state, decision.Reason, CancellationToken.None);
                CoordinatorLog.Retrying(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, retry.At, retry.Reason);
                break;
            case RetryDecision.DeadLetter:
                await scheduler.RemoveRepeatingAsync(item.DataType, item.EntityId, CancellationToken.None);
                await store.RecordFailureAsync(failure, state, decision.Reason, CancellationToken.None);
                CoordinatorLog.DeadLettered(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, decision.Reason);
                alerts.Enqueue(AlertMessage.ForDeadLetter(item.DataType, item.EntityId, firing.Attempt,
                    $"{ex.GetType().Name}: {ex.Message}", node.Id, failedAt)); // queued only: delivery never holds up the coordinator
                break;
            default:
                if (firing.Kind != FiringKind.Regular)
                    await RearmAsync(dataType, item, tier, failedAt);
                await store.RecordFailureAsync(failure, state, decision.Reason, CancellationToken.None);
                CoordinatorLog.Expired(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, decision.Reason);
                break;
        }
        var outcome = decision switch
        {
            RetryDecision.Retry => FiringOutcome.Failed,
            RetryDecision.DeadLetter => FiringOutcome.DeadLettered,
            _ => FiringOutcome.Expired,
        };
        metrics.AttemptFinished(item.DataType, outcome, failedAt - ran.At, ran.DueToStart);
    }

    /// <summary>What the call cost: the executor's report, or the reservation.</summary>
    private Task SettleAsync(CreditReservation? reservation, WorkItemContext executorContext) =>
        reservation is null ? Task.CompletedTask : credits.SettleAsync(reservation, executorContext.Cost.Credits, CancellationToken.None);

    /// <summary>No credits left in the vendor's window: the item runs again when the next one opens.</summary>
    private Task DeferForCreditsAsync(ItemRef item, FiringData firing, string vendor, DateTimeOffset now)
    {
        var (_, end) = credits.WindowAt(vendor, now);
        return DeferAsync(item, firing, end - now, $"No credits left for vendor {vendor} until {end:u}", FiringKind.Deferred);
    }

    private async Task ExpireAsync(DataTypeDefinition dataType, ItemRef item, FiringData firing, string reason, DateTimeOffset now)
    {
        if (firing.Kind != FiringKind.Regular)
        {
            var current = await store.GetAsync(item.DataType, item.EntityId, CancellationToken.None);
            if (current is not null)
                await RearmAsync(dataType, item, current.Tier, now);
        }
        await store.SetStateAsync(item.DataType, item.EntityId, WorkItemStates.Expired, reason, null, now, CancellationToken.None);
        CoordinatorLog.Expired(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, reason);
        metrics.AttemptFinished(item.DataType, FiringOutcome.Expired, null, null);
    }

    /// <summary>Defers the item; <paramref name="ran"/> when its executor was called.</summary>
    private async Task DeferAsync(ItemRef item, FiringData firing, TimeSpan delay, string reason, FiringKind kind, Started? ran = null)
    {
        var now = time.GetUtcNow();
        var runAt = now + delay;
        // The attempt is not counted: the next firing carries the same number again.
        await scheduler.ScheduleOneOffAsync(item.DataType, item.EntityId, runAt, firing with { Kind = kind }, CancellationToken.None);
        await store.SetStateAsync(item.DataType, item.EntityId, WorkItemStates.Deferred, reason, firing.Attempt - 1, now, CancellationToken.None);
        CoordinatorLog.Deferred(logger, item.DataType, item.EntityId, firing.Attempt, node.Id, runAt, reason);
        metrics.AttemptFinished(item.DataType, FiringOutcome.Deferred, now - ran?.At, ran?.DueToStart);
    }

    /// <summary>After a retry, deferral or run-now, a recurring item goes back to its tier's cadence.</summary>
    private Task RearmAsync(DataTypeDefinition dataType, ItemRef item, string? tier, DateTimeOffset now)
    {
        if (dataType.CadenceOf(tier) is not { } cadence || tier == Tiers.Exclude)
            return Task.CompletedTask;
        return scheduler.ArmAsync(dataType, [(item.EntityId, tier, now + cadence, false)], CancellationToken.None);
    }

    private static JsonElement? ParsePayload(string? payload) =>
        payload is null ? null : JsonDocument.Parse(payload).RootElement.Clone();

    private readonly record struct ItemRef(string DataType, string EntityId);

    /// <summary>An attempt that started (its executor was called): when, and how long after it was due.</summary>
    private readonly record struct Started(DateTimeOffset At, TimeSpan DueToStart);
}

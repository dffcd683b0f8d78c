using BatchScheduler.Configuration;
using BatchScheduler.Credits;
using BatchScheduler.Lifecycle;
using BatchScheduler.Observability;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Logging;
using Quartz;

namespace BatchScheduler.Coordination;

/// <summary>An attempt let through admission: started (its fence taken), with what the executor needs.</summary>
internal sealed record Admitted(StartedAttempt Attempt, AttemptStart Row, CreditReservation? Reservation, DateTimeOffset StartedAt, TimeSpan DueToStart);

/// <summary>
/// The first half of a firing: whether it may start its item now. A late firing of a recurring item
/// catches up (runs once, not once per missed interval or cron tick), an expired one expires, one inside
/// the data type's quiet hours waits for their end, a dependent item waits
/// for its upstream items, an item out of vendor credits is deferred; otherwise the start is written
/// (fenced) and the attempt runs. Every move it decides goes through <see cref="ItemLifecycle"/>.
/// </summary>
internal sealed class FiringAdmission(
    WorkItemStore store,
    AttemptWriter attempts,
    ItemLifecycle lifecycle,
    NodeIdentity node,
    VendorCredits credits,
    ItemDependencies dependencies,
    SchedulerMetrics metrics,
    TimeProvider time,
    ILogger<CoordinatorJob> logger)
{
    /// <summary>A regular firing this late is checked against the item's last start.</summary>
    internal static readonly TimeSpan LateFiring = TimeSpan.FromSeconds(1);

    /// <summary>How long a firing that found its item busy elsewhere waits before it tries again.</summary>
    internal static readonly TimeSpan BusyRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Admits the firing: the started attempt, or null when it did not start (and what follows is already arranged).</summary>
    public async Task<Admitted?> AdmitAsync(IJobExecutionContext context, DataTypeDefinition dataType, string entityId, FiringData firing)
    {
        var item = dataType.Name;
        var started = time.GetUtcNow();
        // A retry, deferral or run-now is due at its own firing time (its DueAt is the cycle's, for expiry);
        // a recovered one at its recovery trigger's start (its fire time is moved to the front of the due order).
        var ownTime = context.Recovering ? context.Trigger.StartTimeUtc : context.ScheduledFireTimeUtc ?? firing.DueAt;
        var dueToStart = started - (firing.Kind == FiringKind.Regular ? firing.DueAt : ownTime);
        DateTimeOffset? notStartedSince = null;
        if (firing.Kind == FiringKind.Regular && context.NextFireTimeUtc is { } next && firing.DueAt is var due
            && due < started - LateFiring
            && await store.GetAsync(item, entityId, CancellationToken.None) is { } stored)
        {
            // The start below is conditional on that too, so two such firings on two nodes cannot both run it.
            notStartedSince = due;
            // Quartz repeats at a fixed rate, so its next firing may already be due: move the trigger to one
            // cadence from now, and the item runs once rather than once per missed interval.
            if (next <= started)
                await lifecycle.CatchUpAsync(dataType, entityId, CancellationToken.None);
            // A firing handed out before such a move (another node may take it at once) is stale if the
            // item has started since it fell due.
            if (stored.UpdatesStart is { } lastStart && lastStart >= due)
            {
                CoordinatorLog.SkippedStale(logger, item, entityId, firing.Attempt, node.Id, due, lastStart);
                return null;
            }
        }

        if (dataType.CreateRetryPlanner().IsExpired(started, firing.DueAt))
        {
            var reason = $"Expired: attempt {firing.Attempt} would start at {started:u}, past the expiry window of {dataType.Options.Expiry} from {firing.DueAt:u}";
            if (await BeforeStartAsync(context, dataType.Name, entityId, firing, lifecycle.ExpireBeforeStartAsync(dataType, entityId, firing, reason, CancellationToken.None)))
            {
                CoordinatorLog.Expired(logger, item, entityId, firing.Attempt, node.Id, reason);
                metrics.AttemptFinished(item, FiringOutcome.Expired, null, null);
            }
            return null;
        }

        // Quiet hours: nothing starts inside them (a late or caught-up firing included). Held back to their
        // end, the firing keeps its due time, so its expiry window still applies then.
        if (dataType.QuietHours?.EndOfQuiet(started) is { } quietEnd)
        {
            await DeferAsync(context, dataType, entityId, firing, quietEnd - started, $"Quiet hours until {quietEnd:u}");
            return null;
        }

        // Upstream items first: a dependent item never runs before they have completed.
        if (dependencies.UpstreamsOf(item).Count > 0)
        {
            var current = await store.GetAsync(item, entityId, CancellationToken.None);
            var waiting = await dependencies.WaitingForAsync(item, entityId, current?.UpdatesStart, CancellationToken.None);
            if (waiting.Count > 0)
            {
                await DeferAsync(context, dataType, entityId, firing, ItemDependencies.Recheck,
                    $"Waiting for {string.Join(", ", waiting.Select(u => $"{u}/{entityId}"))} to complete");
                return null;
            }
        }

        // Credits next: an item that cannot pay waits for the next window, with no attempt counted and no
        // updates_start written, since nothing ran.
        CreditReservation? reservation = null;
        if (dataType.Options.Vendor is { Length: > 0 } vendor)
        {
            reservation = await credits.TryReserveAsync(vendor, dataType.Options.CreditsPerCall, CancellationToken.None);
            if (reservation is null)
            {
                await DeferForCreditsAsync(context, dataType, entityId, firing, vendor);
                return null;
            }
        }

        // This node holds the item's claim, so it does not run it elsewhere in this process.
        var row = await attempts.BeginAsync(new AttemptRequest(item, entityId, firing.Attempt, started, notStartedSince));
        if (!row.IsStarted && reservation is not null)
            await credits.SettleAsync(reservation, 0, CancellationToken.None); // no call: the credits go back
        if (row.IsStale && notStartedSince is { } since)
        {
            CoordinatorLog.SkippedStale(logger, item, entityId, firing.Attempt, node.Id, since, row.LastStart ?? since);
            return null;
        }
        if (row.IsStale)
        {
            // No guard was asked for: the start was refused because the item was in flight on a live node,
            // and that attempt has ended since (read just after). It ran meanwhile, so this firing counts as busy.
            await SkipBusyAsync(context, item, entityId, firing, "another node until just now");
            return null;
        }
        if (row.IsPaused)
        {
            // Handed out just before a pause: it comes back, paused, at its own place in the due order.
            CoordinatorLog.Paused(logger, item, entityId, firing.Attempt, node.Id, ownTime);
            await lifecycle.PausedBeforeStartAsync(dataType, entityId, firing, ownTime, CancellationToken.None);
            return null;
        }
        if (row.IsGone || row.IsExcluded)
        {
            CoordinatorLog.NotRunnable(logger, item, entityId, firing.Attempt, node.Id, row.IsGone ? "it has no work item row" : "it is in tier exclude");
            await lifecycle.NotRunnableAsync(item, entityId, CancellationToken.None);
            return null;
        }
        if (!row.IsStarted)
        {
            await SkipBusyAsync(context, item, entityId, firing, row.BusyNode!);
            return null;
        }
        if (row.PausedAsItStarted)
        {
            // Its start waited for the item's row across its data type's pause: handed back unrun, due at once,
            // paused with its data type (the attempt is not counted).
            if (reservation is not null)
                await credits.SettleAsync(reservation, 0, CancellationToken.None);
            CoordinatorLog.Paused(logger, item, entityId, firing.Attempt, node.Id, ownTime);
            await lifecycle.DeferredAsync(dataType, new StartedAttempt(item, entityId, firing, row.Fence), LifecycleEvent.HandedBack, TimeSpan.Zero,
                "Paused as it started: handed back, not run; it runs when its data type is resumed", CancellationToken.None);
            return null;
        }
        if (reservation is not null && credits.WindowAt(reservation.Vendor, time.GetUtcNow()).Start.ToUnixTimeMilliseconds() != reservation.WindowStart)
        {
            // The window turned while the start was written: the vendor counts this call in the new one.
            await credits.SettleAsync(reservation, 0, CancellationToken.None);
            reservation = await credits.TryReserveAsync(reservation.Vendor, reservation.Credits, CancellationToken.None);
            if (reservation is null)
            {
                await DeferForCreditsAsync(context, dataType, entityId, firing, dataType.Options.Vendor!);
                return null;
            }
        }
        return new Admitted(new StartedAttempt(item, entityId, firing, row.Fence), row, reservation, started, dueToStart);
    }

    /// <summary>
    /// The item runs elsewhere (or already here): this firing does not start it. A firing that is its
    /// trigger's last comes back a little later, unless something else is pending, so the item keeps a trigger.
    /// </summary>
    public async Task SkipBusyAsync(IJobExecutionContext context, string dataType, string entityId, FiringData firing, string busyNode)
    {
        CoordinatorLog.SkippedBusy(logger, dataType, entityId, firing.Attempt, node.Id, busyNode);
        await lifecycle.NotNowAsync(dataType, entityId, firing, context.NextFireTimeUtc is null, time.GetUtcNow() + BusyRetryDelay, CancellationToken.None);
    }

    /// <summary>No credits left in the vendor's window: the item runs again when the next one opens.</summary>
    private Task DeferForCreditsAsync(IJobExecutionContext context, DataTypeDefinition dataType, string entityId, FiringData firing, string vendor)
    {
        var now = time.GetUtcNow();
        var (_, end) = credits.WindowAt(vendor, now);
        return DeferAsync(context, dataType, entityId, firing, end - now, $"No credits left for vendor {vendor} until {end:u}");
    }

    private async Task DeferAsync(IJobExecutionContext context, DataTypeDefinition dataType, string entityId, FiringData firing, TimeSpan delay, string reason)
    {
        var runAt = time.GetUtcNow() + delay;
        if (await BeforeStartAsync(context, dataType.Name, entityId, firing, lifecycle.DeferBeforeStartAsync(dataType, entityId, firing, runAt, reason, CancellationToken.None)))
        {
            CoordinatorLog.Deferred(logger, dataType.Name, entityId, firing.Attempt, node.Id, runAt, reason);
            metrics.AttemptFinished(dataType.Name, FiringOutcome.Deferred, null, null);
        }
    }

    /// <summary>True when the decision was carried out; a busy or gone item is handled as such.</summary>
    private async Task<bool> BeforeStartAsync(IJobExecutionContext context, string dataType, string entityId, FiringData firing, Task<BeforeStart> decision)
    {
        switch (await decision)
        {
            case BeforeStart.Done:
                return true;
            case BeforeStart.Busy:
                await SkipBusyAsync(context, dataType, entityId, firing, "another node");
                return false;
            default:
                CoordinatorLog.NotRunnable(logger, dataType, entityId, firing.Attempt, node.Id, "it has no work item row");
                return false;
        }
    }
}

using BatchScheduler.Configuration;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Lifecycle;

/// <summary>
/// The one owner of a work item's lifecycle: every change of an item's state or trigger that is not
/// Quartz firing it (the start and the success of a regular firing, which need no decision) goes
/// through here, as one of the <see cref="Transitions"/>, under the item's lock.
/// </summary>
/// <remarks>
/// <para>
/// A move reads the item's row and its trigger under the lock, decides, writes the trigger, then the
/// state, and lets go. On PostgreSQL and SQL Server the lock is a row lock held across the decision and
/// both writes (<see cref="ItemRows"/>), so no other mover on any node, and no start of the item, sees
/// or changes the row in between; on SQLite the node owns the file and an in-process lock does it.
/// </para>
/// <para>
/// Two rules make concurrent moves compose instead of overwrite each other:
/// an attempt's writes (its state and its trigger move) land only while the row carries the attempt's
/// fence, so an attempt that was superseded writes nothing; and a pending run-now or upstream arm (a
/// request from outside any attempt) is never replaced by an attempt's outcome: it runs the item, and
/// its own outcome puts the item back on its cadence. Exclusion and deletion remove any trigger.
/// </para>
/// </remarks>
internal sealed partial class ItemLifecycle
{
    private readonly ItemLocks _locks;
    private readonly ItemRows _rows;
    private readonly WorkItemScheduler _triggers;
    private readonly NodeIdentity _node;
    private readonly TimeProvider _time;
    private readonly ILogger<ItemLifecycle> _logger;
    private readonly Coordination.RunningItems _running;

    internal ItemLifecycle(
        ItemLocks locks, ItemRows rows, WorkItemScheduler triggers, NodeIdentity node, TimeProvider time, ILogger<ItemLifecycle> logger, Coordination.RunningItems running)
    {
        _running = running;
        _locks = locks;
        _rows = rows;
        _triggers = triggers;
        _node = node;
        _time = time;
        _logger = logger;
    }

    /// <summary>Runs <paramref name="move"/> on the item's row under the item's lock, and commits what it wrote.</summary>
    private async Task<T> UnderLockAsync<T>(string dataType, string entityId, Func<LockedRow, DateTimeOffset, Task<T>> move, CancellationToken cancellationToken)
    {
        using var held = await _locks.EnterAsync(dataType, entityId, cancellationToken);
        await using var row = await _rows.OpenAsync(dataType, entityId, _time.GetUtcNow(), cancellationToken);
        var result = await move(row, _time.GetUtcNow());
        await row.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Puts the item's trigger where <paramref name="next"/> says, keeping a pending request (run-now,
    /// upstream arm) unless the item is excluded; returns what it did, for logs and tests. A one-off of a
    /// <paramref name="paused"/> item is stored paused.
    /// </summary>
    private async Task<TriggerMove> PlaceAsync(
        DataTypeDefinition dataType, string entityId, string? tier, Next next, bool paused, DateTimeOffset now, CancellationToken cancellationToken, LockedRow? row = null)
    {
        var current = await _triggers.CurrentAsync(dataType.Name, entityId, cancellationToken);
        if (tier == Tiers.Exclude)
        {
            if (current.NextFireTime is null && current.OneOffKind is null)
                return TriggerMove.Kept;
            await _triggers.RemoveAsync(dataType.Name, entityId, cancellationToken);
            return TriggerMove.Removed;
        }
        if (current.IsPendingRequest)
            return TriggerMove.KeptRequest;
        switch (next)
        {
            case Next.Cadence(var replaceRegular):
                // A pending regular trigger was put there since this attempt started (a re-tier, a repair): it
                // stands, unless it is the one being moved (a late firing's catch-up).
                if ((current.IsPendingRegular && !replaceRegular) || dataType.CadenceOf(tier) is not { } cadence
                    || cadence.NextAfter(now, dataType.QuietHours) is not { } due)
                    return TriggerMove.Kept;
                // A late firing's catch-up of the regular trigger it fired: the trigger's times move in place, in the
                // row lock's transaction. Re-armed through Quartz, each catch-up took Quartz's cluster-wide trigger lock
                // (qrtz_locks), and a catch-up after an hour down ran at 5-20 items a second behind it.
                if (replaceRegular && !paused && current.IsPendingRegular && row is { MovesTriggerInPlace: true }
                    && await _triggers.RegularNextFireTimeAsync(dataType, entityId, cadence, cancellationToken) is { } seen
                    && await row.MoveTriggerAsync(seen, WorkItemTriggers.OutsideQuietHours(due, dataType.QuietHours), cancellationToken))
                    return TriggerMove.Moved;
                await _triggers.ArmAsync(dataType, [(entityId, tier, due, false)], cancellationToken);
                return TriggerMove.Armed;
            case Next.OneOff(var at, var data):
                await _triggers.ScheduleOneOffAsync(dataType.Name, entityId, at, data, paused, cancellationToken);
                return TriggerMove.Scheduled;
            case Next.NoRepeat:
                // A spent one-off or one-shot goes with Quartz's completion of the firing.
                if (!current.IsPending)
                    return TriggerMove.Kept;
                await _triggers.RemoveAsync(dataType.Name, entityId, cancellationToken);
                return TriggerMove.Removed;
            default:
                return TriggerMove.Kept;
        }
    }

    /// <summary>Where an item's trigger goes next.</summary>
    private abstract record Next
    {
        /// <summary>Back to its tier's cadence: one interval from now, or a cron cadence's next tick, so a cron item keeps its phase (a one-shot item: nothing).</summary>
        /// <param name="ReplaceRegular">Also move a pending regular trigger (else one put there since stands).</param>
        public sealed record Cadence(bool ReplaceRegular = false) : Next;

        /// <summary>A one-off at <paramref name="At"/> carrying <paramref name="Data"/>.</summary>
        public sealed record OneOff(DateTimeOffset At, FiringData Data) : Next;

        /// <summary>No further run: a pending trigger of the item's own is removed.</summary>
        public sealed record NoRepeat : Next;
    }

    internal enum TriggerMove
    {
        Kept,
        KeptRequest,
        Armed,
        Scheduled,
        Removed,
        Paused,
        Resumed,

        /// <summary>The item's regular trigger, as it was, given new times (a late firing's catch-up).</summary>
        Moved,
    }

    [LoggerMessage(1900, LogLevel.Warning, "Attempt of {DataType}/{EntityId} (attempt {Attempt}, fence {Fence}) on {NodeId} was superseded (the item's fence is {CurrentFence}): {Outcome} not written")]
    private static partial void SupersededLog(ILogger logger, string dataType, string entityId, int attempt, long fence, string nodeId, long currentFence, string outcome);

    [LoggerMessage(1905, LogLevel.Warning, "Deferred {Count} {DataType} items in tier exclude that a stopped node left in flight; they run again only with another tier")]
    private static partial void InterruptedExcludedLog(ILogger logger, int count, string dataType);

    [LoggerMessage(1901, LogLevel.Debug, "{Event} of {DataType}/{EntityId} on {NodeId}: trigger {Move}")]
    private static partial void MovedLog(ILogger logger, LifecycleEvent @event, string dataType, string entityId, string nodeId, TriggerMove move);
}

using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Lifecycle;

/// <summary>What a run-now found.</summary>
internal enum RunNowResult
{
    Accepted,
    NotFound,
    Excluded,

    /// <summary>The item is paused: resume it first.</summary>
    Paused,
}

/// <summary>How a bulk arm treats items that already have a trigger.</summary>
internal enum ArmMode
{
    /// <summary>Registration or re-tier: an item with a pending one-off (a retry, a run-now) keeps it; its outcome re-arms with the new tier.</summary>
    Register,

    /// <summary>A batch's run of each record: replaces whatever trigger the item has (it is a run-now of each).</summary>
    RunNow,

    /// <summary>Trigger repair: only items that still have neither trigger nor firing once locked, and that no recovery trigger stands for.</summary>
    Repair,

    /// <summary>Trigger repair of an interrupted attempt nothing resumes: due now, unless a firing of it has begun once locked or a recovery trigger stands for it.</summary>
    Resume,
}

/// <summary>An item to arm: its tier, and when its regular trigger starts (null: now).</summary>
internal readonly record struct ArmRequest(string EntityId, string? Tier, DateTimeOffset? StartAt, bool NeverCompleted);

/// <summary>Requests from outside any attempt: the API, registration, batches, dependencies and trigger repair.</summary>
internal sealed partial class ItemLifecycle
{
    /// <summary>Fires the item now as attempt 1 of a fresh cycle (also how a dead-lettered item is retried by hand).</summary>
    public Task<RunNowResult> RunNowAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, now) =>
        {
            if (row.Row is null)
                return RunNowResult.NotFound;
            if (row.Row.Tier == Tiers.Exclude)
                return RunNowResult.Excluded;
            if (row.Row.Paused)
                return RunNowResult.Paused;
            await _triggers.ScheduleOneOffAsync(dataType.Name, entityId, now, new FiringData(1, now, FiringKind.Manual), paused: false, cancellationToken);
            MovedLog(_logger, LifecycleEvent.RunNow, dataType.Name, entityId, _node.Id, TriggerMove.Scheduled);
            return RunNowResult.Accepted;
        }, cancellationToken);

    /// <summary>
    /// Arms the item to run now because its upstream items completed, when it is not in flight,
    /// dead-lettered or excluded and <paramref name="ready"/> says (under the lock) that it may run. True when armed.
    /// </summary>
    public Task<bool> ArmUpstreamAsync(DataTypeDefinition dataType, string entityId, Func<ItemRow, Task<bool>> ready, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, now) =>
        {
            if (row.Row is not { } item || item.Tier == Tiers.Exclude || item.State is WorkItemStates.DeadLettered or WorkItemStates.InFlight)
                return false;
            if (!await ready(item))
                return false;
            var current = await _triggers.CurrentAsync(dataType.Name, entityId, cancellationToken);
            if (current.IsPendingRequest && current.NextFireTime <= now)
                return true; // a run-now or arm due already runs it
            await _triggers.ScheduleOneOffAsync(dataType.Name, entityId, now, new FiringData(1, now, FiringKind.Upstream), item.Paused, cancellationToken);
            MovedLog(_logger, LifecycleEvent.UpstreamCompleted, dataType.Name, entityId, _node.Id, TriggerMove.Scheduled);
            return true;
        }, cancellationToken);

    /// <summary>Removes the item's trigger and row (its failure rows stay). False when there was no such item.</summary>
    public Task<bool> DeleteAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken) =>
        DeleteAsync(dataType.Name, entityId, LifecycleEvent.Delete, cancellationToken);

    /// <summary>Removes the item's trigger and row for <paramref name="event"/> (a delete, or a batch's cancel, deadline or archive).</summary>
    public Task<bool> DeleteAsync(string dataType, string entityId, LifecycleEvent @event, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType, entityId, async (row, _) =>
        {
            await _triggers.RemoveAsync(dataType, entityId, cancellationToken);
            MovedLog(_logger, @event, dataType, entityId, _node.Id, TriggerMove.Removed);
            return row.Row is not null && await row.DeleteAsync(cancellationToken);
        }, cancellationToken);

    /// <summary>Removes the item's trigger (not its row) for <paramref name="event"/>, e.g. a batch ending the item's run.</summary>
    public Task RemoveTriggerAsync(string dataType, string entityId, LifecycleEvent @event, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType, entityId, async (_, _) =>
        {
            await _triggers.RemoveAsync(dataType, entityId, cancellationToken);
            MovedLog(_logger, @event, dataType, entityId, _node.Id, TriggerMove.Removed);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Trigger repair's part for excluded items: those left <c>in_flight</c> by a cut-off attempt that nothing
    /// will resume become <c>deferred</c>, saying why (see <see cref="ItemRows.DeferInterruptedExcludedAsync"/>).
    /// </summary>
    public async Task<int> DeferInterruptedExcludedAsync(DataTypeDefinition dataType, CancellationToken cancellationToken)
    {
        var deferred = await _rows.DeferInterruptedExcludedAsync(dataType.Name, _node.Id, InterruptedExcluded, _time.GetUtcNow(), cancellationToken);
        if (deferred > 0)
            InterruptedExcludedLog(_logger, deferred, dataType.Name);
        return deferred;
    }

    /// <summary>Why an excluded item cut off mid-attempt is deferred rather than run again.</summary>
    internal const string InterruptedExcluded = "Interrupted (its node stopped) and not run again: the item is in tier exclude";

    /// <summary>
    /// Gives each item its regular trigger (tier <c>exclude</c>: none) under the items' locks, as
    /// <paramref name="mode"/> says for items that have one. Returns how many were armed or removed.
    /// </summary>
    public async Task<int> ArmAsync(DataTypeDefinition dataType, IReadOnlyList<ArmRequest> items, ArmMode mode, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
            return 0;
        var armed = 0;
        // Locks are taken per chunk: a registration of 100,000 items does not hold them all at once.
        foreach (var chunk in items.Chunk(1000))
        {
            using var held = await _locks.EnterAsync(dataType.Name, chunk.Select(i => i.EntityId), cancellationToken);
            // Repair and resume act on items that look abandoned; one a recovery trigger stands for is not.
            var repairing = mode is ArmMode.Repair or ArmMode.Resume;
            await using var rows = await _rows.LockManyAsync(dataType.Name, chunk.Select(i => i.EntityId).ToList(), cancellationToken, withRecoveries: repairing);
            var toArm = chunk
                .Where(i => rows.Found.TryGetValue(i.EntityId, out var found) && !(repairing && found.HasRecovery) && (i.Tier == Tiers.Exclude || mode switch
                {
                    ArmMode.Repair => !found.HasTriggerOrFiring,
                    ArmMode.Register => !found.HasPendingOneOff,
                    ArmMode.Resume => !found.HasFiring,
                    _ => true,
                }))
                .Select(i => (i.EntityId, i.Tier, i.StartAt, i.NeverCompleted)).ToList();
            if (toArm.Count > 0)
            {
                await _triggers.ArmAsync(dataType, toArm, cancellationToken);
                // A paused item's new trigger is paused too (a data type's pause Quartz imposes by itself).
                await _triggers.PauseAsync(dataType.Name, toArm.Where(a => a.Tier != Tiers.Exclude && rows.Found[a.EntityId].Paused).Select(a => a.EntityId).ToList(), null, cancellationToken);
            }
            await rows.CommitAsync(cancellationToken);
            armed += toArm.Count;
        }
        return armed;
    }
}

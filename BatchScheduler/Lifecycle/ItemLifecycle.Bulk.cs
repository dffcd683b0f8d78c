using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Lifecycle;

/// <summary>
/// The moves of a bulk action (<c>POST /api/work-items/actions</c>) on one chunk of items: the same transitions
/// as the single-item moves (RunNow, Delete, Pause, Resume) with the same decisions, made under the chunk's locks
/// (in-process, then the rows <c>FOR UPDATE</c> in entity-id order, as <see cref="ArmAsync"/> takes them), with one
/// row statement and one Quartz transaction per chunk instead of one each per item. Each returns the entity ids it moved.
/// </summary>
internal sealed partial class ItemLifecycle
{
    /// <summary>Run-now of each stored item not paused and not in tier exclude (those the single route refuses with 409).</summary>
    public Task<IReadOnlyList<string>> RunNowManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.RunNow, TriggerMove.Scheduled, async (rows, now) =>
        {
            var run = rows.Found.Values.Where(f => f.Tier != Tiers.Exclude && !f.Paused).Select(f => f.EntityId).ToList();
            await _triggers.ScheduleOneOffsAsync(dataType.Name, run, now, new FiringData(1, now, FiringKind.Manual), cancellationToken);
            return run;
        }, cancellationToken);

    /// <summary>Removes each stored item's trigger and row (their failure rows stay).</summary>
    public Task<IReadOnlyList<string>> DeleteManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.Delete, TriggerMove.Removed, async (rows, _) =>
        {
            var found = rows.Found.Keys.ToList();
            await _triggers.RemoveManyAsync(dataType.Name, found, cancellationToken);
            await rows.DeleteAsync(dataType.Name, found, cancellationToken);
            return found;
        }, cancellationToken);

    /// <summary>
    /// Pauses each stored item not paused yet (as <see cref="PauseAsync"/>): the rows first, then the triggers, before
    /// the rows commit, so every other mover of the items (a resume on another node) waits until both are done. Trigger
    /// repair, which resumes a paused trigger whose row reads as not paused, skips rows another transaction holds.
    /// </summary>
    public Task<IReadOnlyList<string>> PauseManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, string by, string? reason, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.Pause, TriggerMove.Paused, async (rows, now) =>
        {
            var pause = rows.Found.Values.Where(f => !f.Paused).Select(f => f.EntityId).ToList();
            await rows.PauseAsync(dataType.Name, pause, by, reason, now, cancellationToken);
            await _triggers.PauseAsync(dataType.Name, pause, Details(by, reason), cancellationToken);
            return pause;
        }, cancellationToken);

    /// <summary>Resumes each stored item that is paused (as <see cref="ResumeAsync"/>).</summary>
    public Task<IReadOnlyList<string>> ResumeManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.Resume, TriggerMove.Resumed, async (rows, now) =>
        {
            var resume = rows.Found.Values.Where(f => f.Paused).Select(f => f.EntityId).ToList();
            await rows.ResumeAsync(dataType.Name, resume, now, cancellationToken);
            await _triggers.ResumeManyAsync(dataType.Name, resume, cancellationToken);
            return resume;
        }, cancellationToken);

    /// <summary>Runs <paramref name="move"/> on the items' rows under their locks, commits what it wrote, and logs each item it moved.</summary>
    private async Task<IReadOnlyList<string>> UnderLocksAsync(
        string dataType, IReadOnlyList<string> entityIds, LifecycleEvent @event, TriggerMove trigger,
        Func<LockedRows, DateTimeOffset, Task<IReadOnlyList<string>>> move, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return [];
        using var held = await _locks.EnterAsync(dataType, entityIds, cancellationToken);
        await using var rows = await _rows.LockManyAsync(dataType, entityIds, cancellationToken);
        var moved = await move(rows, _time.GetUtcNow());
        await rows.CommitAsync(cancellationToken);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            foreach (var entityId in moved)
                MovedLog(_logger, @event, dataType, entityId, _node.Id, trigger);
        }
        return moved;
    }
}

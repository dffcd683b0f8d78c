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
    /// Pauses each stored item not paused yet (as <see cref="PauseAsync"/>: the rows first, then the triggers). The rows
    /// are committed before the triggers are paused: trigger repair resumes a paused trigger whose row it reads as not
    /// paused, and a chunk's triggers paused while its rows' pause was still uncommitted were each resumed that way
    /// (200 at a time in the bench). Once the rows say paused no start of them is made, so the triggers may follow.
    /// </summary>
    public Task<IReadOnlyList<string>> PauseManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, string by, string? reason, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.Pause, TriggerMove.Paused, async (rows, now) =>
        {
            var pause = rows.Found.Values.Where(f => !f.Paused).Select(f => f.EntityId).ToList();
            await rows.PauseAsync(dataType.Name, pause, by, reason, now, cancellationToken);
            return pause;
        }, cancellationToken, afterCommit: paused => _triggers.PauseAsync(dataType.Name, paused, Details(by, reason), cancellationToken));

    /// <summary>Resumes each stored item that is paused (as <see cref="ResumeAsync"/>).</summary>
    public Task<IReadOnlyList<string>> ResumeManyAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken) =>
        UnderLocksAsync(dataType.Name, entityIds, LifecycleEvent.Resume, TriggerMove.Resumed, async (rows, now) =>
        {
            var resume = rows.Found.Values.Where(f => f.Paused).Select(f => f.EntityId).ToList();
            await rows.ResumeAsync(dataType.Name, resume, now, cancellationToken);
            await _triggers.ResumeManyAsync(dataType.Name, resume, cancellationToken);
            return resume;
        }, cancellationToken);

    /// <summary>Runs <paramref name="move"/> on the items' rows under their locks, commits what it wrote, runs <paramref name="afterCommit"/>, and logs each item it moved.</summary>
    private async Task<IReadOnlyList<string>> UnderLocksAsync(
        string dataType, IReadOnlyList<string> entityIds, LifecycleEvent @event, TriggerMove trigger,
        Func<LockedRows, DateTimeOffset, Task<IReadOnlyList<string>>> move, CancellationToken cancellationToken,
        Func<IReadOnlyList<string>, Task>? afterCommit = null)
    {
        if (entityIds.Count == 0)
            return [];
        using var held = await _locks.EnterAsync(dataType, entityIds, cancellationToken);
        await using var rows = await _rows.LockManyAsync(dataType, entityIds, cancellationToken);
        var moved = await move(rows, _time.GetUtcNow());
        await rows.CommitAsync(cancellationToken);
        if (afterCommit is not null)
            await afterCommit(moved); // still under the in-process locks: this node's own movers of the items wait for it
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            foreach (var entityId in moved)
                MovedLog(_logger, @event, dataType, entityId, _node.Id, trigger);
        }
        return moved;
    }
}

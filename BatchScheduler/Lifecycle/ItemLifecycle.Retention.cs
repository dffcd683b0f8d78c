namespace BatchScheduler.Lifecycle;

/// <summary>Retention of completed one-shot items: the lifecycle's <see cref="LifecycleEvent.Purge"/>.</summary>
internal sealed partial class ItemLifecycle
{
    /// <summary>
    /// Deletes the rows among <paramref name="entityIds"/> that, under their locks (in-process, then the rows <c>FOR UPDATE</c>
    /// as every mover takes them), still match <paramref name="agedOut"/>: a re-registration, run-now or arm that got there
    /// first keeps its item, and one that comes after finds no item (a run-now: 404; a registration: a new item). The
    /// delete statement tests the condition again in a snapshot taken after the locks were granted, so a trigger a mover
    /// committed while this waited is seen. Returns how many rows it deleted.
    /// </summary>
    public async Task<int> PurgeAsync(AgedOutCompleted agedOut, IReadOnlyList<string> entityIds, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return 0;
        using var held = await _locks.EnterAsync(agedOut.DataType, entityIds, cancellationToken);
        await using var rows = await _rows.LockManyAsync(agedOut.DataType, entityIds, cancellationToken);
        var candidates = rows.Found.Values.Where(f => !f.HasTriggerOrFiring && !f.Paused).Select(f => f.EntityId).ToList();
        var deleted = await rows.DeleteAgedOutAsync(agedOut.DataType, candidates, agedOut, cancellationToken);
        await rows.CommitAsync(cancellationToken);
        return deleted;
    }
}

using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;

namespace BatchScheduler.WorkItems;

/// <summary>Registers, re-tiers, runs and removes work items: their row and their trigger together.</summary>
internal sealed class WorkItemService(
    WorkItemStore store, ItemLifecycle lifecycle, ClusterWake wake, RunningItems running, NodeIdentity node, TimeProvider time)
{
    /// <summary>
    /// Upserts the items, then arms a trigger for every item that is new (due now; on PostgreSQL and SQLite
    /// written in the same transaction as the rows, straight into Quartz's tables) or whose tier
    /// changed (due one new cadence after it last completed, or now when that has passed).
    /// Re-registering an unchanged item updates its payload and leaves its schedule alone. An item
    /// given a <c>RunAt</c> is due then instead (past: now), never placed early in the due order,
    /// whether new or not; a pending one-off (a retry, a run-now) is kept, as for a re-tier. The
    /// runAt is stored with the item (<c>work_items.run_at</c>); one registered without a runAt keeps
    /// the stored one, and while the item has not started since it was given and it lies ahead, a
    /// re-tier or a lost trigger re-arms the item at it rather than by its cadence.
    /// </summary>
    public Task<int> RegisterAsync(DataTypeDefinition dataType, IReadOnlyList<WorkItemRegistration> items, CancellationToken cancellationToken) =>
        RegisterAsync(dataType, items, runNow: false, cancellationToken);

    /// <summary>
    /// Registers a batch's items (their <c>BatchId</c> set): as <see cref="RegisterAsync(DataTypeDefinition, IReadOnlyList{WorkItemRegistration}, CancellationToken)"/>,
    /// except that every item not in tier <c>exclude</c> is due now (or at its record's runAt when that lies
    /// ahead), including items that existed before (the batch asks for a run of each record).
    /// </summary>
    public Task<int> RegisterBatchItemsAsync(DataTypeDefinition dataType, IReadOnlyList<WorkItemRegistration> items, CancellationToken cancellationToken) =>
        RegisterAsync(dataType, items, runNow: true, cancellationToken);

    private async Task<int> RegisterAsync(DataTypeDefinition dataType, IReadOnlyList<WorkItemRegistration> items, bool runNow, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var newTriggers = new NewItemTriggers(dataType.Name, WorkItemKeys.JobGroup, dataType.CadenceOf, dataType.QuietHours);
        var outcomes = await store.RegisterAsync(dataType.Name, items, now, newTriggers, cancellationToken);
        var toArm = outcomes
            .Where(o => !o.Armed)
            // An item in flight has no trigger between Quartz completing its firing and its end being
            // written: not a lost trigger (re-arming it then ran a one-shot item twice). Trigger repair
            // re-arms in-flight items whose node is gone.
            .Where(o => runNow || !o.Existed || o.PreviousTier != o.Item.Tier || o.Item.RunAt is not null
                        || (!o.HasTrigger && o.PreviousState != WorkItemStates.InFlight && ShouldHaveTrigger(dataType, o.Item.Tier, o.PreviousState!)))
            .Select(o => new ArmRequest(o.Item.EntityId, o.Item.Tier,
                o.Item.RunAt is { } at ? Ahead(at, now) : runNow ? null : Ahead(o.OwedRunAt, now) ?? NextStart(dataType, o.Item.Tier, o.LastEnd, now),
                o.LastEnd is null)).ToList();
        if (toArm.Count > 0)
            await lifecycle.ArmAsync(dataType, toArm, runNow ? ArmMode.RunNow : ArmMode.Register, cancellationToken);
        if (toArm.Count > 0 || outcomes.Any(o => o.Armed))
            await wake.NotifyAsync(cancellationToken);
        return outcomes.Count;
    }

    /// <summary>
    /// Re-arms items that lost their trigger: pending one-shot items and every recurring item not
    /// dead-lettered (e.g. the node stopped between writing an item's row and its trigger), and
    /// items left in flight by a dead node or by this one when it no longer runs them (e.g. the
    /// final write of a run was lost to a database outage; executors are idempotent, so it runs again).
    /// An item that has not started since it was given a runAt still ahead is re-armed at it.
    /// </summary>
    public async Task<int> RepairTriggersAsync(DataTypeDefinition dataType, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var orphans = (await store.FindWithoutTriggerAsync(dataType.Name, node.Id, now, cancellationToken))
            .Where(o => o.State != WorkItemStates.InFlight || o.NodeId != node.Id || !running.IsRunning(dataType.Name, o.EntityId))
            .Where(o => ShouldHaveTrigger(dataType, o.Tier, o.State))
            .ToList();
        if (orphans.Any(IsOwnInFlight))
        {
            // An item this node runs has neither trigger nor fired row between Quartz completing its
            // firing and its end being written, and its claim is released once the end is written:
            // the end may have landed between the read above and the claim check. Read again (after
            // the check): one still in flight at the same start was not running.
            var again = (await store.FindWithoutTriggerAsync(dataType.Name, node.Id, time.GetUtcNow(), cancellationToken))
                .Where(IsOwnInFlight).ToDictionary(o => o.EntityId, o => o.LastStart, StringComparer.Ordinal);
            orphans.RemoveAll(o => IsOwnInFlight(o) && !(again.TryGetValue(o.EntityId, out var start) && start == o.LastStart));
        }
        var toArm = orphans
            .Select(o => new ArmRequest(o.EntityId, o.Tier, Ahead(o.OwedRunAt, now) ?? NextStart(dataType, o.Tier, o.LastEnd, now), o.LastEnd is null)).ToList();
        // Re-checked under the items' locks: one armed or fired since the read above is left alone.
        var armed = await lifecycle.ArmAsync(dataType, toArm, ArmMode.Repair, cancellationToken);
        // Attempts cut off with nothing to resume them: run now rather than at the next cadence.
        var interrupted = (await store.FindInterruptedAsync(dataType.Name, node.Id, time.GetUtcNow(), cancellationToken))
            .Select(i => new ArmRequest(i.EntityId, i.Tier, null, false)).ToList();
        armed += await lifecycle.ArmAsync(dataType, interrupted, ArmMode.Resume, cancellationToken);
        await lifecycle.DeferInterruptedExcludedAsync(dataType, cancellationToken);
        return armed;
    }

    private bool IsOwnInFlight(OrphanedItem item) => item.State == WorkItemStates.InFlight && item.NodeId == node.Id;

    private static bool ShouldHaveTrigger(DataTypeDefinition dataType, string? tier, string state) =>
        tier != Tiers.Exclude && state switch
        {
            WorkItemStates.NeverRun or WorkItemStates.Retrying or WorkItemStates.Deferred or WorkItemStates.InFlight => true,
            WorkItemStates.Completed or WorkItemStates.Expired => dataType.CadenceOf(tier) is not null,
            _ => false,
        };

    /// <summary><paramref name="at"/> when it lies ahead of <paramref name="now"/>; else null (due now).</summary>
    private static DateTimeOffset? Ahead(DateTimeOffset? at, DateTimeOffset now) => at > now ? at : null;

    private static DateTimeOffset? NextStart(DataTypeDefinition dataType, string? tier, DateTimeOffset? lastEnd, DateTimeOffset now) =>
        lastEnd is { } end && dataType.CadenceOf(tier)?.NextAfter(end, dataType.QuietHours) is { } next && next > now ? next : null;

    /// <summary>Fires the item now as attempt 1 of a fresh cycle (also how a dead-lettered item is retried by hand).</summary>
    public async Task<(RunNowResult Result, WorkItem? Item)> RunNowAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken)
    {
        var result = await lifecycle.RunNowAsync(dataType, entityId, cancellationToken);
        if (result != RunNowResult.Accepted)
            return (result, null);
        await wake.NotifyAsync(cancellationToken);
        return (result, await store.GetAsync(dataType.Name, entityId, cancellationToken));
    }

    /// <summary>
    /// Re-tiers the stored items among <paramref name="entityIds"/> to <paramref name="tier"/> as a registration with a new
    /// tier does (payload kept): each one whose tier changed is re-armed one new cadence after it last completed (now
    /// when that has passed; at an owed runAt ahead), a pending one-off kept. Returns the entity ids re-tiered.
    /// </summary>
    public async Task<IReadOnlyList<string>> RetierAsync(DataTypeDefinition dataType, IReadOnlyList<string> entityIds, string tier, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var changed = await store.RetierAsync(dataType.Name, entityIds, tier, now, cancellationToken);
        // As a registration with a new tier: every changed item is armed (ArmMode.Register keeps a pending one-off).
        var toArm = changed.Select(c => new ArmRequest(c.EntityId, tier, Ahead(c.OwedRunAt, now) ?? NextStart(dataType, tier, c.LastEnd, now), c.LastEnd is null)).ToList();
        if (toArm.Count > 0)
        {
            await lifecycle.ArmAsync(dataType, toArm, ArmMode.Register, cancellationToken);
            await wake.NotifyAsync(cancellationToken);
        }
        return changed.Select(c => c.EntityId).ToList();
    }

    /// <summary>Removes the item's trigger and row. False when there was no such item.</summary>
    public Task<bool> RemoveAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken) =>
        lifecycle.DeleteAsync(dataType, entityId, cancellationToken);
}

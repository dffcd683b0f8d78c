using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Quartz;

namespace BatchScheduler.Lifecycle;

/// <summary>What a pause or resume of an item found.</summary>
internal enum PauseResult
{
    /// <summary>Done: the item is now paused (or resumed).</summary>
    Done,

    /// <summary>Nothing to do: it already was.</summary>
    Unchanged,

    NotFound,
}

/// <summary>Pause and resume, of one item or of a whole data type.</summary>
/// <remarks>
/// <para>
/// Nothing starts while paused: the start statement refuses an item that is paused or whose data type is
/// (<c>Storage.SqlDialect.NotPaused</c>), whatever fired it. The triggers are paused too (Quartz state
/// <c>PAUSED</c>), so paused items are not fired at all; a firing handed out just before the pause, which
/// the start refuses, comes back as a paused one-off at its own due time (<see cref="PausedBeforeStartAsync"/>).
/// </para>
/// <para>
/// Quartz's misfire threshold (a year) is longer than any pause, so a paused trigger keeps its fire time:
/// on resume, whatever fell due meanwhile fires once, in due order (stalest first), and a late regular
/// firing catches up to one cadence from then, as after any downtime.
/// </para>
/// </remarks>
internal sealed partial class ItemLifecycle
{
    /// <summary>
    /// Pauses the item: state <c>paused</c> (an attempt running now finishes, and its end writes <c>paused</c>),
    /// its trigger paused. A pending run-now stays, paused, and runs on resume.
    /// </summary>
    public Task<PauseResult> PauseAsync(DataTypeDefinition dataType, string entityId, string by, string? reason, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, now) =>
        {
            if (row.Row is not { } item)
                return PauseResult.NotFound;
            if (item.Paused)
                return PauseResult.Unchanged;
            // The row first: should the trigger's pause fail, the start statement still refuses the item, and a
            // firing of it comes back paused; a trigger paused for an unpaused row would wait for trigger repair.
            await row.PauseAsync(by, reason, now, cancellationToken);
            await _triggers.PauseAsync(dataType.Name, [entityId], Details(by, reason), cancellationToken);
            MovedLog(_logger, LifecycleEvent.Pause, dataType.Name, entityId, _node.Id, TriggerMove.Paused);
            return PauseResult.Done;
        }, cancellationToken);

    /// <summary>Resumes the item: it gets back its state, and its trigger fires as due (unless its data type is paused).</summary>
    public Task<PauseResult> ResumeAsync(DataTypeDefinition dataType, string entityId, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, now) =>
        {
            if (row.Row is not { } item)
                return PauseResult.NotFound;
            if (!item.Paused)
                return PauseResult.Unchanged;
            await row.ResumeAsync(now, cancellationToken);
            await _triggers.ResumeAsync(dataType.Name, entityId, cancellationToken);
            MovedLog(_logger, LifecycleEvent.Resume, dataType.Name, entityId, _node.Id, TriggerMove.Resumed);
            return PauseResult.Done;
        }, cancellationToken);

    /// <summary>
    /// Pauses the data type: its Quartz trigger group, on every node, with who and why recorded in
    /// <c>qrtz_paused_trigger_grps</c>. Items keep their states; attempts running now finish. False when it already was.
    /// </summary>
    public async Task<bool> PauseDataTypeAsync(DataTypeDefinition dataType, string by, string? reason, CancellationToken cancellationToken)
    {
        if (await _triggers.IsPausedAsync(dataType.Name, cancellationToken))
            return false;
        await _triggers.PauseGroupAsync(dataType.Name, Details(by, reason) ?? new PauseDetails { RequestedBy = by }, cancellationToken);
        MovedLog(_logger, LifecycleEvent.PauseDataType, dataType.Name, "*", _node.Id, TriggerMove.Paused);
        return true;
    }

    /// <summary>
    /// Resumes the data type: its trigger group is resumed; items paused by themselves stay paused (their
    /// starts are refused whatever their triggers say). False when it was not paused.
    /// </summary>
    public async Task<bool> ResumeDataTypeAsync(DataTypeDefinition dataType, CancellationToken cancellationToken)
    {
        if (!await _triggers.IsPausedAsync(dataType.Name, cancellationToken))
            return false;
        await _triggers.ResumeGroupAsync(dataType.Name, () => _rows.PausedItemsAsync(dataType.Name, cancellationToken), cancellationToken);
        MovedLog(_logger, LifecycleEvent.ResumeDataType, dataType.Name, "*", _node.Id, TriggerMove.Resumed);
        return true;
    }

    /// <summary>
    /// A firing whose start was refused because the item or its data type is paused (it was handed out just
    /// before the pause): it comes back as a one-off at its own due time, paused, so that it runs once on
    /// resume, in due order. A pending one-off (run-now, arm, retry, deferral) is kept instead (it runs on resume), and an
    /// item in flight on another live node is left to that attempt's end.
    /// </summary>
    public Task PausedBeforeStartAsync(DataTypeDefinition dataType, string entityId, FiringData firing, DateTimeOffset dueAt, CancellationToken cancellationToken) =>
        UnderLockAsync(dataType.Name, entityId, async (row, _) =>
        {
            // An attempt running elsewhere places what follows it (paused); a pending one-off (a retry, a deferral,
            // a run-now) already stands for the item's next run and keeps its attempt count.
            if (row.Row is not { } item || item.InFlightElsewhere(_node.Id))
                return false;
            var current = await _triggers.CurrentAsync(dataType.Name, entityId, cancellationToken);
            if (current.IsPending && current.OneOffKind is not null)
                return false;
            var data = firing.Kind is FiringKind.Manual or FiringKind.Upstream ? firing : firing with { Kind = FiringKind.Deferred };
            await _triggers.ScheduleOneOffAsync(dataType.Name, entityId, dueAt, data, item.Paused, cancellationToken);
            MovedLog(_logger, LifecycleEvent.PausedBeforeStart, dataType.Name, entityId, _node.Id, TriggerMove.Scheduled);
            return true;
        }, cancellationToken);

    /// <summary>
    /// A regular trigger just put back for a paused item is paused too (a data type's pause Quartz imposes by itself);
    /// a one-off is stored paused at once (<c>WorkItemScheduler.ScheduleOneOffAsync</c>).
    /// </summary>
    private async Task HoldIfPausedAsync(string dataType, string entityId, ItemRow row, CancellationToken cancellationToken)
    {
        if (row.Paused)
            await _triggers.PauseAsync(dataType, [entityId], null, cancellationToken);
    }

    private static PauseDetails? Details(string by, string? reason) =>
        string.IsNullOrWhiteSpace(reason) && string.IsNullOrWhiteSpace(by) ? null : new PauseDetails { Reason = reason, RequestedBy = by };
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.BulkActions;

/// <summary>
/// Runs bulk actions in the background on the node that accepted them: chunk by chunk, in (data type, entity id)
/// order, each item moved by <see cref="ItemLifecycle"/> as the single-item route moves it (under its lock, one item
/// at a time, so a bulk action holds no more locks at once than one API call does), with a pause after each chunk.
/// An action its node stops is marked interrupted, by the node as it stops or, if it died, by the next node that
/// starts or is asked about it.
/// </summary>
internal sealed partial class BulkActionRunner(
    BulkActionStore store, ItemLifecycle lifecycle, WorkItemService service, DataTypeCatalog catalog, ClusterWake wake,
    NodeIdentity node, IOptions<BulkActionOptions> options, TimeProvider time, ILogger<BulkActionRunner> logger) : IHostedService, IDisposable
{
    private const string StoppedReason = "This node stopped before the action ended; what it applied stays applied. Running the action again is safe.";
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// <summary>Counts the matching items, records the action and starts it; returns it as recorded.</summary>
    public async Task<BulkActionStatus> BeginAsync(BulkActionSpec spec, string requestedBy, CancellationToken cancellationToken)
    {
        var matched = await store.CountAsync(spec.Filter, cancellationToken);
        var action = new BulkActionStatus(
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), Name(spec.Action), spec.Filter, spec.Tier, spec.Reason, requestedBy, node.Id,
            BulkActionStates.Running, matched, 0, 0, 0, null, time.GetUtcNow(), null);
        await store.InsertAsync(action, cancellationToken);
        StartedLog(logger, action.Id, action.Action, action.Filter.ToJson(), matched, requestedBy, node.Id);
        _running[action.Id] = Task.Run(() => RunAsync(action, spec, _stopping.Token), CancellationToken.None);
        return action;
    }

    /// <summary>Waits up to <paramref name="wait"/> for the action (when it runs here) to end, then reads it.</summary>
    public async Task<BulkActionStatus?> WaitAsync(string id, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait > TimeSpan.Zero && _running.TryGetValue(id, out var running))
            await Task.WhenAny(running, Task.Delay(wait, time, cancellationToken));
        return await store.GetAsync(id, cancellationToken);
    }

    /// <summary>The action as recorded, after marking interrupted those whose node is gone.</summary>
    public async Task<BulkActionStatus?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await InterruptAbandonedAsync(includeOwn: false, cancellationToken);
        return await store.GetAsync(id, cancellationToken);
    }

    private async Task RunAsync(BulkActionStatus action, BulkActionSpec spec, CancellationToken stopping)
    {
        try
        {
            var o = options.Value;
            ItemKey? after = null;
            while (true)
            {
                var chunk = await store.NextChunkAsync(spec.Filter, after, o.ChunkSize, stopping);
                if (chunk.Count == 0)
                    break;
                var counts = await ApplyAsync(spec, action.RequestedBy, chunk, stopping);
                after = chunk[^1];
                await store.ProgressAsync(action.Id, counts, after, stopping);
                if (chunk.Count < o.ChunkSize)
                    break;
                if (o.ChunkPause > TimeSpan.Zero)
                    await Task.Delay(o.ChunkPause, time, stopping);
            }
            await store.FinishAsync(action.Id, BulkActionStates.Done, null, time.GetUtcNow(), CancellationToken.None);
            EndedLog(logger, action.Id, action.Action, BulkActionStates.Done, node.Id);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await store.FinishAsync(action.Id, BulkActionStates.Interrupted, StoppedReason, time.GetUtcNow(), CancellationToken.None);
            EndedLog(logger, action.Id, action.Action, BulkActionStates.Interrupted, node.Id);
        }
        catch (Exception e)
        {
            // The one catch-all of a bulk action, as an attempt's is at the executor boundary: its failure becomes
            // the action's state with the reason (what it applied stays applied), and the node runs on.
            FailedLog(logger, e, action.Id, action.Action, node.Id);
            await store.FinishAsync(action.Id, BulkActionStates.Failed, e.Message, time.GetUtcNow(), CancellationToken.None);
        }
        finally
        {
            _running.TryRemove(action.Id, out _);
        }
    }

    private async Task<ChunkCounts> ApplyAsync(BulkActionSpec spec, string by, IReadOnlyList<ItemKey> chunk, CancellationToken cancellationToken)
    {
        var outcomes = new List<ItemOutcome>(chunk.Count);
        foreach (var group in chunk.GroupBy(k => k.DataType, StringComparer.Ordinal))
        {
            // An item of a data type no longer configured here is not moved (its executor and cadences are unknown).
            if (!catalog.TryGet(group.Key, out var dataType))
            {
                outcomes.AddRange(group.Select(_ => ItemOutcome.NotApplied));
                continue;
            }
            var ids = group.Select(k => k.EntityId).ToList();
            if (spec.Action == BulkActionKind.Cancel)
            {
                foreach (var id in ids)
                    outcomes.Add(await CancelItemAsync(dataType, id, by, spec.Reason, cancellationToken));
                continue;
            }
            var moved = await MoveAsync(spec, by, dataType, ids, cancellationToken);
            // Not moved: gone or already so (skipped), or refused, as the single route refuses it (run of a paused or excluded item).
            var notMoved = ids.Count - moved.Count;
            var refused = spec.Action == BulkActionKind.Run ? notMoved - await GoneAsync(dataType, ids, moved, cancellationToken) : 0;
            outcomes.AddRange(Enumerable.Repeat(ItemOutcome.Applied, moved.Count)
                .Concat(Enumerable.Repeat(ItemOutcome.NotApplied, refused))
                .Concat(Enumerable.Repeat(ItemOutcome.Skipped, notMoved - refused)));
        }
        if (spec.Action == BulkActionKind.Run && outcomes.Contains(ItemOutcome.Applied))
            await wake.NotifyAsync(cancellationToken);
        return ChunkCounts.Of(outcomes);
    }

    /// <summary>The chunk's items of one data type moved as their single-item routes move them (one lifecycle transition each).</summary>
    private async Task<IReadOnlyList<string>> MoveAsync(BulkActionSpec spec, string by, DataTypeDefinition dataType, IReadOnlyList<string> ids, CancellationToken cancellationToken) =>
        spec.Action switch
        {
            BulkActionKind.Run => await lifecycle.RunNowManyAsync(dataType, ids, cancellationToken),
            BulkActionKind.Delete => await lifecycle.DeleteManyAsync(dataType, ids, cancellationToken),
            BulkActionKind.Pause => await lifecycle.PauseManyAsync(dataType, ids, by, spec.Reason, cancellationToken),
            BulkActionKind.Resume => await lifecycle.ResumeManyAsync(dataType, ids, cancellationToken),
            BulkActionKind.Tier => await service.RetierAsync(dataType, ids, spec.Tier!, cancellationToken),
            _ => throw new UnreachableException($"Bulk action {spec.Action} has no chunk move."),
        };

    /// <summary>How many of the items not moved are gone (deleted since the chunk was read): skipped, not refused.</summary>
    private async Task<int> GoneAsync(DataTypeDefinition dataType, IReadOnlyList<string> ids, IReadOnlyList<string> moved, CancellationToken cancellationToken) =>
        ids.Count - moved.Count - await store.CountStoredAsync(dataType.Name, ids.Except(moved, StringComparer.Ordinal).ToList(), cancellationToken);

    /// <summary>
    /// A bulk cancel: each matched item's running attempt is asked to stop as the single route asks it
    /// (<see cref="ItemLifecycle.CancelAsync"/>); an item with no attempt running is skipped.
    /// </summary>
    private async Task<ItemOutcome> CancelItemAsync(DataTypeDefinition dataType, string entityId, string by, string? reason, CancellationToken cancellationToken) =>
        await lifecycle.CancelAsync(dataType.Name, entityId, by, reason, cancellationToken) == CancelResult.Cancelled ? ItemOutcome.Applied : ItemOutcome.Skipped;

    public static string Name(BulkActionKind action) => action.ToString().ToLowerInvariant();

    private async Task InterruptAbandonedAsync(bool includeOwn, CancellationToken cancellationToken)
    {
        var marked = await store.InterruptAbandonedAsync(node.Id, includeOwn, time.GetUtcNow(), cancellationToken);
        if (marked > 0)
            AbandonedLog(logger, marked, node.Id);
    }

    /// <summary>On start nothing runs here yet: actions still marked running on this node's id, or on a gone node, were interrupted.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => InterruptAbandonedAsync(includeOwn: true, cancellationToken);

    /// <summary>Stops the running actions between two items; each is marked interrupted with its progress.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_running.Values).WaitAsync(cancellationToken);
    }

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(2650, LogLevel.Information, "Bulk action {ActionId} ({Action} of {Filter}) started on {NodeId} by {RequestedBy}: {Matched} items match")]
    private static partial void StartedLog(ILogger logger, string actionId, string action, string filter, long matched, string requestedBy, string nodeId);

    [LoggerMessage(2651, LogLevel.Information, "Bulk action {ActionId} ({Action}) on {NodeId}: {State}")]
    private static partial void EndedLog(ILogger logger, string actionId, string action, string state, string nodeId);

    [LoggerMessage(2652, LogLevel.Error, "Bulk action {ActionId} ({Action}) on {NodeId} failed; what it applied stays applied")]
    private static partial void FailedLog(ILogger logger, Exception exception, string actionId, string action, string nodeId);

    [LoggerMessage(2653, LogLevel.Warning, "Marked {Count} bulk actions interrupted on {NodeId}: their node stopped before they ended")]
    private static partial void AbandonedLog(ILogger logger, int count, string nodeId);
}

using System.Threading.Channels;
using BatchScheduler.Configuration;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Coordination;

/// <summary>
/// Writes the coordinator's per-attempt state in batches: whatever starts and ends queue up while
/// one write is on its way go together in the next, one statement each (a group commit). Two
/// synchronous updates per execution were the coordinator's largest cost.
/// </summary>
/// <remarks>
/// <para>
/// A start is awaited: the executor runs only once its <c>updates_start</c> is durable and the
/// start guard has let it through, so the table never says less than what has begun.
/// </para>
/// <para>
/// An end is not awaited: the Quartz thread moves on, and the item's claim in
/// <see cref="RunningItems"/> is released only once its <c>updates_end</c> is written. Until then
/// this node treats the item as running (no second start here, and trigger repair leaves it alone).
/// A crash before the write leaves the item <c>in_flight</c> with its <c>updates_start</c>, exactly
/// as a crash just before a synchronous write would: once the node is dead the item runs again.
/// </para>
/// <para>
/// Order: one queue, and each round writes its ends before its starts, so an item's end is
/// always written before the start of its next run on this node. Starts are not written while
/// older ends are unwritten (a database outage): those starts fail, as a direct write would.
/// </para>
/// </remarks>
internal sealed partial class AttemptWriter(WorkItemStore store, NodeIdentity node, RunningItems running, ILogger<AttemptWriter> logger)
    : BackgroundService
{
    private const int MaxBatch = 1000;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShutdownFlushLimit = TimeSpan.FromSeconds(10);

    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>();
    private readonly List<PendingEnd> _unwrittenEnds = [];

    /// <summary>Marks the attempt started once durable, or says why not (busy elsewhere, gone).</summary>
    public Task<AttemptStart> BeginAsync(AttemptRequest request)
    {
        var pending = new PendingStart(request, new TaskCompletionSource<AttemptStart>(TaskCreationOptions.RunContinuationsAsynchronously));
        return _queue.Writer.TryWrite(pending)
            ? pending.Result.Task
            : store.BeginAttemptAsync(request.DataType, request.EntityId, request.Attempt, node.Id, runningHere: false, request.StartedAt, CancellationToken.None,
                request.NotStartedSince);
    }

    /// <summary>
    /// Queues the attempt's <c>updates_end</c>; the item's claim is released once it is written, and
    /// then <paramref name="afterWritten"/> runs (in the background; it must handle its own errors).
    /// Once the writer has stopped, writes it at once and releases the claim.
    /// </summary>
    public async ValueTask CompleteAsync(AttemptEnd end, Func<Task>? afterWritten = null)
    {
        if (_queue.Writer.TryWrite(new PendingEnd(end, afterWritten)))
            return;
        try
        {
            if (!await store.CompleteAsync(end, CancellationToken.None))
                EndSuperseded(logger, end.DataType, end.EntityId, end.Fence, node.Id);
        }
        finally
        {
            running.Release(end.DataType, end.EntityId);
        }
        if (afterWritten is not null)
            await afterWritten();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (_unwrittenEnds.Count > 0 || await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                if (!await FlushAsync())
                    await Task.Delay(RetryDelay, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: StopAsync writes what is left.
        }
    }

    /// <summary>Stops after Quartz (it is registered before it) and writes what is still queued.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        _queue.Writer.TryComplete();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(ShutdownFlushLimit);
        try
        {
            while (_unwrittenEnds.Count > 0 || _queue.Reader.Count > 0)
            {
                if (!await FlushAsync())
                    await Task.Delay(RetryDelay, limit.Token);
            }
        }
        catch (OperationCanceledException)
        {
            EndsLeftUnwritten(logger, _unwrittenEnds.Count, node.Id);
        }
    }

    /// <summary>One round: the queued ends, then the queued starts. False when the ends could not be written.</summary>
    private async Task<bool> FlushAsync()
    {
        var starts = new List<PendingStart>();
        while (_unwrittenEnds.Count + starts.Count < MaxBatch && _queue.Reader.TryRead(out var next))
        {
            if (next is PendingEnd end)
                _unwrittenEnds.Add(end);
            else
                starts.Add((PendingStart)next);
        }

        if (_unwrittenEnds.Count > 0)
        {
            try
            {
                foreach (var superseded in await store.CompleteManyAsync(_unwrittenEnds.Select(e => e.End).ToList(), CancellationToken.None))
                    EndSuperseded(logger, superseded.DataType, superseded.EntityId, superseded.Fence, node.Id);
            }
#pragma warning disable CA1031 // an outage: the ends are kept and written again; the node carries on
            catch (Exception ex)
#pragma warning restore CA1031
            {
                EndsNotWritten(logger, ex, _unwrittenEnds.Count, node.Id);
                var reason = new InvalidOperationException(
                    $"Not starting: {_unwrittenEnds.Count} earlier attempt ends on this node are not written yet ({ex.Message}).", ex);
                foreach (var start in starts)
                    start.Result.TrySetException(reason);
                return false;
            }
            foreach (var (end, afterWritten) in _unwrittenEnds)
            {
                running.Release(end.DataType, end.EntityId);
                if (afterWritten is not null)
                    _ = Task.Run(afterWritten);
            }
            _unwrittenEnds.Clear();
        }

        if (starts.Count > 0)
        {
            try
            {
                var results = await store.BeginAttemptsAsync(starts.Select(s => s.Request).ToList(), node.Id, CancellationToken.None);
                for (var i = 0; i < starts.Count; i++)
                    starts[i].Result.TrySetResult(results[i]);
            }
#pragma warning disable CA1031 // handed to each waiting execution, as a direct write's failure would be
            catch (Exception ex)
#pragma warning restore CA1031
            {
                foreach (var start in starts)
                    start.Result.TrySetException(ex);
            }
        }
        return true;
    }

    [LoggerMessage(1011, LogLevel.Warning, "Could not write {Count} attempt ends on {NodeId}; trying again (their items count as running here until written)")]
    private static partial void EndsNotWritten(ILogger logger, Exception exception, int count, string nodeId);

    [LoggerMessage(1012, LogLevel.Error, "Stopping with {Count} attempt ends unwritten on {NodeId}: those items stay in_flight and run again on another node")]
    private static partial void EndsLeftUnwritten(ILogger logger, int count, string nodeId);

    [LoggerMessage(1022, LogLevel.Warning, "The end of {DataType}/{EntityId} (fence {Fence}) on {NodeId} was not written: the item started again since (its attempt was superseded) or is gone")]
    private static partial void EndSuperseded(ILogger logger, string dataType, string entityId, long fence, string nodeId);

    private sealed record PendingStart(AttemptRequest Request, TaskCompletionSource<AttemptStart> Result);

    private sealed record PendingEnd(AttemptEnd End, Func<Task>? AfterWritten);
}

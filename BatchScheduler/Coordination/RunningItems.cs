using System.Collections.Concurrent;

namespace BatchScheduler.Coordination;

/// <summary>
/// The items this node is executing right now, each with the fence of its attempt and a cancellation
/// source: a graceful shutdown hands back what did not finish within its grace period, and
/// <see cref="AttemptLeaseWatch"/> cancels attempts this node no longer owns.
/// </summary>
internal sealed class RunningItems
{
    private readonly ConcurrentDictionary<(string DataType, string EntityId), RunningClaim> _running = new();
    private readonly SemaphoreSlim _changed = new(0);
    private string? _cancelledAll;

    public int Count => _running.Count;

    public bool IsRunning(string dataType, string entityId) => _running.ContainsKey((dataType, entityId));

    /// <summary>
    /// Claims the item for this node and returns the claim whose token its execution observes (cancelled
    /// when <paramref name="quartzToken"/> is, or by <see cref="CancelAll"/> / <see cref="Cancel"/>); null
    /// when this node already runs it.
    /// </summary>
    public RunningClaim? TryClaim(string dataType, string entityId, CancellationToken quartzToken)
    {
        var claim = new RunningClaim(dataType, entityId, CancellationTokenSource.CreateLinkedTokenSource(quartzToken));
        if (_running.TryAdd((dataType, entityId), claim))
        {
            if (Volatile.Read(ref _cancelledAll) is { } reason)
                claim.Cancel(reason); // a firing handed out before a shutdown's grace period ended, run after it
            return claim;
        }
        claim.Dispose();
        return null;
    }

    public void Release(string dataType, string entityId)
    {
        if (_running.TryRemove((dataType, entityId), out var claim))
            claim.Dispose();
        _changed.Release();
    }

    /// <summary>The claims of attempts that have started (their fence is known).</summary>
    public IReadOnlyList<RunningClaim> Started() => _running.Values.Where(c => c.Fence is not null).ToList();

    /// <summary>Why a graceful shutdown cancels what still runs after its grace period.</summary>
    public const string ShutdownReason = "Handed back: the node shut down before the attempt finished";

    /// <summary>Asks every running execution to stop, and every one claimed from now on.</summary>
    public void CancelAll(string reason = ShutdownReason)
    {
        Volatile.Write(ref _cancelledAll, reason);
        foreach (var claim in _running.Values)
            claim.Cancel(reason);
    }

    /// <summary>Asks the execution of the item to stop, if it still runs the attempt with <paramref name="fence"/>.</summary>
    public bool Cancel(string dataType, string entityId, long fence, string reason) =>
        Cancel(dataType, entityId, fence, new AttemptCancel(CancelCause.Lost, reason));

    /// <summary>Cancels the attempt with <paramref name="fence"/> for <paramref name="cancel"/>; false when it does not run here or was cancelled already.</summary>
    public bool Cancel(string dataType, string entityId, long fence, AttemptCancel cancel) =>
        _running.TryGetValue((dataType, entityId), out var claim) && claim.Fence == fence && claim.Cancel(cancel);

    /// <summary>Whether this node runs the attempt of the item with <paramref name="fence"/>.</summary>
    public bool Runs(string dataType, string entityId, long fence) =>
        _running.TryGetValue((dataType, entityId), out var claim) && claim.Fence == fence;

    /// <summary>How many attempts run on past their timeout or cancel's grace period here: their outcome is written, their executor has not returned.</summary>
    public int Overdue => _running.Values.Count(c => c.Overdue);

    /// <summary>Completes once nothing runs here, or throws when <paramref name="cancellationToken"/> fires first.</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (!_running.IsEmpty)
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
    }
}

/// <summary>This node's claim of an item it executes: the attempt's fence once started, and why it was cancelled, if it was.</summary>
internal sealed class RunningClaim(string dataType, string entityId, CancellationTokenSource source) : IDisposable
{
    private long _fence = long.MinValue;
    private AttemptCancel? _cancel;
    private int _settled;
    private int _overdue;

    public string DataType { get; } = dataType;

    public string EntityId { get; } = entityId;

    public CancellationToken Token { get; } = source.Token;

    /// <summary>The started attempt's fence; null before the start is written.</summary>
    public long? Fence => Interlocked.Read(ref _fence) is var f && f != long.MinValue ? f : null;

    /// <summary>Why the attempt was cancelled by this node (shutdown, superseded, paused, timed out, cancelled by an operator); null when it was not.</summary>
    public string? CancelReason => Cancellation?.Reason;

    /// <summary>How and why the attempt was cancelled by this node; null when it was not.</summary>
    public AttemptCancel? Cancellation => Volatile.Read(ref _cancel);

    /// <summary>The executor runs on although the attempt's outcome was written at its grace period's end (<see cref="TrySettle"/>).</summary>
    public bool Overdue => Volatile.Read(ref _overdue) == 1;

    public void Started(long fence) => Interlocked.Exchange(ref _fence, fence);

    /// <summary>
    /// Takes the right to write the attempt's outcome: true once, for whichever comes first, the executor's
    /// return or the end of the grace period after a timeout or cancel (<see cref="MarkOverdue"/>).
    /// </summary>
    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;

    /// <summary>Gives back the right taken by <see cref="TrySettle"/> (its outcome could not be written), for the executor's return.</summary>
    internal void Unsettle() => Interlocked.Exchange(ref _settled, 0);

    /// <summary>The outcome was written while the executor still runs: it keeps its slot here until it returns.</summary>
    internal void MarkOverdue() => Volatile.Write(ref _overdue, 1);

    internal bool Cancel(string reason) =>
        Cancel(new AttemptCancel(reason == RunningItems.ShutdownReason ? CancelCause.Shutdown : CancelCause.Lost, reason));

    internal bool Cancel(AttemptCancel cancel)
    {
        if (Interlocked.CompareExchange(ref _cancel, cancel, null) is not null)
            return false;
        try
        {
            source.Cancel();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false; // released meanwhile: that execution is over already
        }
    }

    public void Dispose() => source.Dispose();
}

/// <summary>Why this node cancelled an attempt.</summary>
internal enum CancelCause
{
    /// <summary>The node shut down before the attempt finished: it is handed back.</summary>
    Shutdown,

    /// <summary>This node lost the item (it started again elsewhere, or the node was paused past its failover time).</summary>
    Lost,

    /// <summary>The attempt ran longer than its data type's <c>Timeout</c>: it fails with <c>timed out after …</c>.</summary>
    TimedOut,

    /// <summary>An operator cancelled it (<c>POST …/cancel</c>): not counted, the item is paused.</summary>
    Operator,
}

/// <summary>A cancel of a running attempt: its cause, the reason its outcome carries, and who asked (an operator's cancel).</summary>
internal sealed record AttemptCancel(CancelCause Cause, string Reason, string? By = null)
{
    /// <summary>Whether the attempt's outcome is written at the end of a grace period even if its executor does not return.</summary>
    public bool EndsAfterGrace => Cause is CancelCause.TimedOut or CancelCause.Operator;
}

using System.Collections.Concurrent;

namespace BatchScheduler.Coordination;

/// <summary>
/// The items this node is executing right now, each with the fence of its attempt and a cancellation
/// source: a graceful shutdown hands back what did not finish within its grace period, and
/// <see cref="AttemptLeaseWatch"/> cancels attempts this node no longer owns.
/// </summary>
public sealed class RunningItems
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
        _running.TryGetValue((dataType, entityId), out var claim) && claim.Fence == fence && claim.Cancel(reason);

    /// <summary>Completes once nothing runs here, or throws when <paramref name="cancellationToken"/> fires first.</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (!_running.IsEmpty)
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
    }
}

/// <summary>This node's claim of an item it executes: the attempt's fence once started, and why it was cancelled, if it was.</summary>
public sealed class RunningClaim(string dataType, string entityId, CancellationTokenSource source) : IDisposable
{
    private long _fence = long.MinValue;
    private string? _cancelReason;

    public string DataType { get; } = dataType;

    public string EntityId { get; } = entityId;

    public CancellationToken Token { get; } = source.Token;

    /// <summary>The started attempt's fence; null before the start is written.</summary>
    public long? Fence => Interlocked.Read(ref _fence) is var f && f != long.MinValue ? f : null;

    /// <summary>Why the attempt was cancelled by this node (shutdown, superseded, paused); null when it was not.</summary>
    public string? CancelReason => Volatile.Read(ref _cancelReason);

    public void Started(long fence) => Interlocked.Exchange(ref _fence, fence);

    internal bool Cancel(string reason)
    {
        if (Interlocked.CompareExchange(ref _cancelReason, reason, null) is not null)
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

using System.Collections.Concurrent;

namespace BatchScheduler.Coordination;

/// <summary>
/// The items this node is executing right now, each with a cancellation source that a graceful
/// shutdown uses to hand back what did not finish within its grace period.
/// </summary>
public sealed class RunningItems
{
    private readonly ConcurrentDictionary<(string DataType, string EntityId), CancellationTokenSource> _running = new();
    private readonly SemaphoreSlim _changed = new(0);

    public int Count => _running.Count;

    public bool IsRunning(string dataType, string entityId) => _running.ContainsKey((dataType, entityId));

    /// <summary>
    /// Claims the item for this node and returns the token its execution observes (cancelled when
    /// <paramref name="quartzToken"/> is, or by <see cref="CancelAll"/>); null when this node already runs it.
    /// </summary>
    public CancellationTokenSource? TryClaim(string dataType, string entityId, CancellationToken quartzToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(quartzToken);
        if (_running.TryAdd((dataType, entityId), source))
            return source;
        source.Dispose();
        return null;
    }

    public void Release(string dataType, string entityId)
    {
        if (_running.TryRemove((dataType, entityId), out var source))
            source.Dispose();
        _changed.Release();
    }

    /// <summary>Asks every running execution to stop.</summary>
    public void CancelAll()
    {
        foreach (var source in _running.Values)
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Released meanwhile: that execution is over already.
            }
        }
    }

    /// <summary>Completes once nothing runs here, or throws when <paramref name="cancellationToken"/> fires first.</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (!_running.IsEmpty)
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
    }
}

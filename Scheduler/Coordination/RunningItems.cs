using System.Collections.Concurrent;

namespace BatchScheduler.Coordination;

/// <summary>The items this node is executing right now.</summary>
public sealed class RunningItems
{
    private readonly ConcurrentDictionary<(string DataType, string EntityId), byte> _running = new();

    /// <summary>Claims the item for this node; false when this node already runs it.</summary>
    public bool TryClaim(string dataType, string entityId) => _running.TryAdd((dataType, entityId), 0);

    public void Release(string dataType, string entityId) => _running.TryRemove((dataType, entityId), out _);

    public int Count => _running.Count;
}

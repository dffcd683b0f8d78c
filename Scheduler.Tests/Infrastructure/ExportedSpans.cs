using System.Collections;
using System.Diagnostics;
using BatchScheduler.Observability;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// The collection an in-memory exporter adds finished spans to, safe to read while nodes add to it.
/// Every node in the test process feeds the one "BatchScheduler" source, so a test reads its own node's spans.
/// </summary>
public sealed class ExportedSpans : ICollection<Activity>
{
    private readonly Lock _lock = new();
    private readonly List<Activity> _spans = [];

    /// <summary>The attempt spans of node <paramref name="nodeId"/>, in the order they ended.</summary>
    public IReadOnlyList<Activity> OfNode(string nodeId)
    {
        lock (_lock)
            return _spans.Where(s => s.GetTagItem(AttemptTracing.NodeTag) as string == nodeId).ToList();
    }

    public int Count { get { lock (_lock) return _spans.Count; } }

    public bool IsReadOnly => false;

    public void Add(Activity item)
    {
        lock (_lock)
            _spans.Add(item);
    }

    public void Clear()
    {
        lock (_lock)
            _spans.Clear();
    }

    public bool Contains(Activity item)
    {
        lock (_lock)
            return _spans.Contains(item);
    }

    public void CopyTo(Activity[] array, int arrayIndex)
    {
        lock (_lock)
            _spans.CopyTo(array, arrayIndex);
    }

    public bool Remove(Activity item)
    {
        lock (_lock)
            return _spans.Remove(item);
    }

    public IEnumerator<Activity> GetEnumerator()
    {
        lock (_lock)
            return _spans.ToList().GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

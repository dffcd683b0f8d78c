using System.Collections.Concurrent;
using BatchScheduler.Executors.Contract;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>Records every call; fails while <see cref="Failing"/> is set.</summary>
public sealed class RecordingExecutor : IWorkItemExecutor
{
    public ConcurrentQueue<WorkItemContext> Calls { get; } = new();

    public volatile bool Failing;

    public Func<WorkItemContext, Exception?>? Throw { get; set; }

    public int CallsFor(string entityId) => Calls.Count(c => c.EntityId == entityId);

    public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        Calls.Enqueue(context);
        if (Throw?.Invoke(context) is { } exception)
            throw exception;
        if (Failing)
            throw new InvalidOperationException($"Recorded failure for {context.EntityId} (attempt {context.Attempt})");
        return ValueTask.CompletedTask;
    }
}

/// <summary>Holds every call until <see cref="Release"/>, so a test can see an item in flight.</summary>
public sealed class GateExecutor : IWorkItemExecutor
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate.TrySetResult();

    public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        Started.TrySetResult();
        await _gate.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>
/// Detects overlap from outside the coordinator: counts executions of each entity running at the
/// same moment. The first call waits at a gate so a test can try to start the item again meanwhile.
/// </summary>
public sealed class OverlapDetectingExecutor : IWorkItemExecutor
{
    private readonly ConcurrentDictionary<string, int> _active = new();
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _calls;
    private int _maxConcurrent;

    public TaskCompletionSource FirstStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Calls => Volatile.Read(ref _calls);

    public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

    public void Release() => _gate.TrySetResult();

    public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        var now = _active.AddOrUpdate(context.EntityId, 1, (_, n) => n + 1);
        int seen;
        while ((seen = Volatile.Read(ref _maxConcurrent)) < now && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
        {
        }
        try
        {
            FirstStarted.TrySetResult();
            if (call == 1)
                await _gate.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _active.AddOrUpdate(context.EntityId, 0, (_, n) => n - 1);
        }
    }
}

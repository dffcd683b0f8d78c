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

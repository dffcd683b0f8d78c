using System.Collections.Concurrent;
using BatchScheduler.Executors.Contract;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// An executor a test drives call by call: each call is announced (<see cref="NextCallAsync"/>) and waits
/// until the test ends it with success or a failure, or its token is cancelled.
/// </summary>
public sealed class ScriptedExecutor : IWorkItemExecutor
{
    private readonly ConcurrentQueue<Call> _announced = new();
    private readonly SemaphoreSlim _calls = new(0);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Calls that end at once with success, without being announced (for items the test does not hold).</summary>
    public Func<WorkItemContext, bool> PassThrough { get; set; } = _ => false;

    public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        if (PassThrough(context))
            return;
        var call = new Call(context, cancellationToken);
        _announced.Enqueue(call);
        _calls.Release();
        await call.Outcome.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The next call to start, once it has.</summary>
    public async Task<Call> NextCallAsync(TimeSpan? timeout = null)
    {
        if (!await _calls.WaitAsync(timeout ?? TimeSpan.FromSeconds(30)))
            throw new TimeoutException("No call of the executor started in time.");
        _announced.TryDequeue(out var call);
        return call!;
    }

    /// <summary>True when no call has started since the last one taken.</summary>
    public bool NoneWaiting => _calls.CurrentCount == 0;

    public sealed class Call(WorkItemContext context, CancellationToken token)
    {
        public WorkItemContext Context { get; } = context;

        public CancellationToken Token { get; } = token;

        internal TaskCompletionSource Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Succeed() => Outcome.TrySetResult();

        public void Fail(string message = "scripted failure") => Outcome.TrySetException(new InvalidOperationException(message));
    }
}

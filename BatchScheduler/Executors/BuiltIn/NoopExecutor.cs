using BatchScheduler.Executors.Contract;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>Does nothing and succeeds; for benchmarks and smoke tests of the scheduling itself.</summary>
internal sealed class NoopExecutor : IWorkItemExecutor
{
    /// <inheritdoc />
    public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

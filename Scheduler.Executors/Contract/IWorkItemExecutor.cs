namespace BatchScheduler.Executors.Contract;

/// <summary>
/// Does the work for one data type, one entity at a time. Implementations must be idempotent:
/// running twice for the same entity is harmless, because a crash or a retry can repeat a call.
/// Return normally on success; throw on failure (the coordinator records it and applies the
/// data type's retry policy); throw <see cref="WorkItemDeferredException"/> to be run again later
/// without counting an attempt.
/// </summary>
public interface IWorkItemExecutor
{
    /// <summary>Runs the work for <paramref name="context"/>.</summary>
    ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken);
}

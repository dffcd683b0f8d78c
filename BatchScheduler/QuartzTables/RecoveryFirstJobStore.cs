using BatchScheduler.Storage;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Where no set-based round moves recovered firings to the front (<see cref="RecoveredFirings"/>):
/// SQLite, SQL Server, PostgreSQL with <c>Cluster:SetBasedFiring=false</c>. Quartz recovers a store's
/// interrupted executions when it starts (<c>SchedulerStarted</c>: a non-clustered store's recovery,
/// and a clustered node's first check-in, which recovers its own earlier process and any dead node),
/// before its scheduler thread acquires anything; this decorator moves them to the front right then.
/// </summary>
/// <remarks>
/// A node that dies later in a SQL Server cluster, or on PostgreSQL without set-based rounds, is
/// recovered by a peer's periodic check-in, after which no hook runs: those recovered firings keep
/// Quartz's order (their original fire time) until a node starts.
/// </remarks>
internal sealed class RecoveryFirstJobStore(
    IJobStore inner, ConnectionFactory connections, string schedulerName, TimeSpan misfireThreshold, TimeProvider time)
    : DelegatingJobStore(inner)
{
    public override async ValueTask SchedulerStarted(CancellationToken cancellationToken = default)
    {
        await base.SchedulerStarted(cancellationToken);
        await using var connection = await connections.OpenAsync(cancellationToken);
        await RecoveredFirings.MoveAheadAsync(connection, connections.Provider, schedulerName,
            RecoveredFirings.Front(time.GetUtcNow(), misfireThreshold), cancellationToken);
    }

    /// <summary>
    /// Forwarded whole: <see cref="DelegatingJobStore"/>'s default acquires without firing, which would
    /// turn off the inner store's rounds that fire what is due as they acquire it.
    /// </summary>
    public override ValueTask<TriggerAcquisitionResult> AcquireNextTriggersAndFireDue(
        TriggerAcquisitionRequest request, CancellationToken cancellationToken = default) =>
        InnerJobStore.AcquireNextTriggersAndFireDue(request, cancellationToken);
}

using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;
using System.Data.Common;

namespace BatchScheduler.Scheduling;

/// <summary>
/// Wakes idle workers when work is scheduled elsewhere. Quartz signals only its own process, so an
/// item registered through another node would wait for each worker's next idle poll (up to
/// <c>Cluster:IdleWaitTime</c>). On PostgreSQL the registering node sends a <c>NOTIFY</c>; every
/// worker's <see cref="ClusterWakeListener"/> hears it and signals its scheduler to look now.
/// Elsewhere (SQLite: one node; SQL Server: no equivalent here) this is a no-op.
/// </summary>
internal sealed class ClusterWake(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
{
    /// <summary>The PostgreSQL channel; the payload is the scheduler name, so clusters sharing a database do not wake each other.</summary>
    public const string Channel = "batchscheduler_wake";

    /// <summary>Tells every listening worker that triggers may have come due. Best effort: a lost wake only costs the idle poll.</summary>
    public async Task NotifyAsync(CancellationToken cancellationToken)
    {
        if (connections.Provider != StorageProvider.Postgres)
            return;
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = connection.Command($"SELECT pg_notify('{Channel}', @sched)").With("@sched", cluster.Value.SchedulerName);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException)
        {
            // The work is stored; the workers' idle poll finds it.
        }
    }
}

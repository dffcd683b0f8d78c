using System.Globalization;
using Quartz;
using Quartz.Impl.AdoJobStore;

namespace BatchScheduler.Limits;

/// <summary>
/// Applies a data type's per-node limit beside its cluster-wide one on a clustered store, inside
/// Quartz's own count. Quartz holds one limit per group, so <see cref="DataTypeLimits"/> gives it the
/// cluster-wide one; when Quartz counts the cluster's firings of it (<c>qrtz_fired_triggers</c>,
/// under its <c>TRIGGER_ACCESS</c> lock, in the same transaction as the acquisition that follows), this
/// count adds what keeps this node within its own limit: Quartz then allows
/// <c>min(cluster limit − cluster's firings, node limit − this node's firings)</c>, exactly.
/// </summary>
/// <remarks>
/// A recovered firing (trigger group <c>RECOVERING_JOBS</c>) is not in this node's count; Quartz adds
/// every recovered firing of the data type to the cluster's afterwards, which covers it. Installed only
/// when some data type has both limits with the per-node one the smaller (<see cref="DataTypeLimits.BothLimits"/>).
/// </remarks>
internal static class BothLimitsCount
{
    private const string Mine =
        "SELECT TRIGGER_GROUP, COUNT(*) FROM {0}FIRED_TRIGGERS WHERE SCHED_NAME = @schedulerName AND INSTANCE_NAME = @instanceName AND EXECUTION_GROUP IS NULL GROUP BY TRIGGER_GROUP";

    /// <summary><paramref name="inFlight"/> (Quartz's count) with, per data type of <paramref name="both"/>, the firings that stand for this node's limit.</summary>
    public static async ValueTask<List<ExecutionGroupInFlight>> WithThisNodeAsync(
        StdAdoDelegate store, string sql, string schedulerName, ConnectionAndTransactionHolder conn, List<ExecutionGroupInFlight> inFlight,
        IReadOnlyList<DataTypeLimit> both, string instanceId, CancellationToken cancellationToken)
    {
        var mine = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var command = store.PrepareCommand(conn, sql))
        {
            store.AddCommandParameter(command, "schedulerName", schedulerName);
            store.AddCommandParameter(command, "instanceName", instanceId);
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                mine[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        }
        var counted = inFlight;
        foreach (var limit in both)
        {
            var all = inFlight.Where(f => f.ExecutionGroup is null && f.TriggerGroup == limit.DataType).Sum(f => f.Count);
            // As many firings as leave this node's free slots as the cluster's: cluster − node + this node's firings.
            var standIn = limit.Cluster!.Value - limit.PerNode!.Value + mine.GetValueOrDefault(limit.DataType);
            if (standIn > all)
                counted = [.. counted, new ExecutionGroupInFlight(null, limit.DataType, standIn - all)];
        }
        return counted;
    }

    /// <summary>The driver delegate of a clustered store: Quartz's own, unless a data type has both limits.</summary>
    public static IDriverDelegate DelegateFor(Storage.StorageProvider provider, DataTypeLimits limits, string instanceId)
    {
        var both = limits.BothLimits.ToList();
        return (provider, both.Count) switch
        {
            (Storage.StorageProvider.Postgres, 0) => new PostgreSQLDelegate(),
            (Storage.StorageProvider.Postgres, _) => new PostgresBothLimitsDelegate(both, instanceId),
            (_, 0) => new SqlServerDelegate(),
            _ => new SqlServerBothLimitsDelegate(both, instanceId),
        };
    }

    /// <summary>This node's count, with <c>{0}</c> for the store's table prefix.</summary>
    public static string Template => Mine;
}

/// <summary>Quartz's PostgreSQL delegate, with <see cref="BothLimitsCount"/> in its in-flight count.</summary>
internal sealed class PostgresBothLimitsDelegate(IReadOnlyList<DataTypeLimit> both, string instanceId) : PostgreSQLDelegate
{
    public override async ValueTask<List<ExecutionGroupInFlight>> SelectExecutionGroupsInFlight(ConnectionAndTransactionHolder conn, CancellationToken cancellationToken = default) =>
        await BothLimitsCount.WithThisNodeAsync(this, ReplaceTablePrefix(BothLimitsCount.Template), SchedulerName, conn,
            await base.SelectExecutionGroupsInFlight(conn, cancellationToken), both, instanceId, cancellationToken);
}

/// <summary>Quartz's SQL Server delegate, with <see cref="BothLimitsCount"/> in its in-flight count.</summary>
internal sealed class SqlServerBothLimitsDelegate(IReadOnlyList<DataTypeLimit> both, string instanceId) : SqlServerDelegate
{
    public override async ValueTask<List<ExecutionGroupInFlight>> SelectExecutionGroupsInFlight(ConnectionAndTransactionHolder conn, CancellationToken cancellationToken = default) =>
        await BothLimitsCount.WithThisNodeAsync(this, ReplaceTablePrefix(BothLimitsCount.Template), SchedulerName, conn,
            await base.SelectExecutionGroupsInFlight(conn, cancellationToken), both, instanceId, cancellationToken);
}

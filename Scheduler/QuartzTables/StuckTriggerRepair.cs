using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Puts back to WAITING the triggers Quartz left ACQUIRED or BLOCKED with no fired-trigger row
/// behind them, a known state after database errors in which such a trigger never fires again.
/// A legitimately acquired trigger, or one blocked behind a running firing, always has a row in
/// <c>qrtz_fired_triggers</c>; Quartz writes both in one transaction.
/// </summary>
public sealed class StuckTriggerRepair(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
{
    public async Task<int> RepairAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE qrtz_triggers SET trigger_state = 'WAITING'
            WHERE sched_name = @sched AND trigger_state IN ('ACQUIRED', 'BLOCKED')
              AND NOT EXISTS (SELECT 1 FROM qrtz_fired_triggers f
                              WHERE f.sched_name = qrtz_triggers.sched_name
                                AND f.trigger_name = qrtz_triggers.trigger_name
                                AND f.trigger_group = qrtz_triggers.trigger_group)
            """).With("@sched", cluster.Value.SchedulerName);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

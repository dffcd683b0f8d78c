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
/// <remarks>
/// <para>
/// Also resumes the work-item triggers left <c>PAUSED</c> although neither their item nor their data type
/// is paused: a pause whose row write failed after its trigger was paused, or an item resumed while its
/// data type was being resumed, each of which saw the other as still paused. Done under Quartz's
/// <c>TRIGGER_ACCESS</c> lock (on PostgreSQL and SQL Server taken as Quartz takes it), so a group pause
/// Quartz is making meanwhile is either seen whole or not begun; SQLite, one writer at a time, needs none.
/// An item whose row another transaction holds (a pause between its row's write and its commit) is skipped:
/// on PostgreSQL <c>FOR UPDATE SKIP LOCKED</c>, on SQL Server <c>READPAST</c>.
/// </para>
/// </remarks>
internal sealed class StuckTriggerRepair(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
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
        return await command.ExecuteNonQueryAsync(cancellationToken) + await ResumeStrayPausedAsync(connection, cancellationToken);
    }

    private async Task<int> ResumeStrayPausedAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var takeLock = connections.Provider switch
        {
            StorageProvider.Postgres => "SELECT 1 FROM qrtz_locks WHERE sched_name = @sched AND lock_name = 'TRIGGER_ACCESS' FOR UPDATE;",
            StorageProvider.SqlServer => "SELECT 1 FROM qrtz_locks WITH (UPDLOCK, ROWLOCK) WHERE sched_name = @sched AND lock_name = 'TRIGGER_ACCESS';",
            _ => "",
        };
        // An item whose row is locked is being moved: a pause holds its row from the row's write until its trigger is
        // paused and both commit, so until then the row reads as not paused. Such an item is left to the next round.
        var (skipLockedHint, skipLocked) = connections.Provider switch
        {
            StorageProvider.Postgres => ("", "FOR UPDATE SKIP LOCKED"),
            StorageProvider.SqlServer => ("WITH (UPDLOCK, ROWLOCK, READPAST)", ""),
            _ => ("", ""),
        };
        await using var command = connection.Command(
            $"""
            {takeLock}
            UPDATE qrtz_triggers SET trigger_state = 'WAITING', pause_reason = NULL, paused_by = NULL, paused_at = NULL
            WHERE sched_name = @sched AND trigger_state = 'PAUSED' AND job_group = @jobGroup
              AND NOT EXISTS (SELECT 1 FROM qrtz_paused_trigger_grps g
                              WHERE g.sched_name = qrtz_triggers.sched_name AND g.trigger_group IN (qrtz_triggers.trigger_group, '_$_ALL_GROUPS_PAUSED_$_'))
              AND (NOT EXISTS (SELECT 1 FROM work_items w
                               WHERE w.data_type = qrtz_triggers.trigger_group AND w.entity_id = qrtz_triggers.trigger_name)
                   OR EXISTS (SELECT 1 FROM work_items w {skipLockedHint}
                              WHERE w.data_type = qrtz_triggers.trigger_group AND w.entity_id = qrtz_triggers.trigger_name
                                AND w.paused_at IS NULL {skipLocked}));
            """, transaction).With("@sched", cluster.Value.SchedulerName).With("@jobGroup", Scheduling.WorkItemKeys.JobGroup);
        var resumed = await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return resumed;
    }
}

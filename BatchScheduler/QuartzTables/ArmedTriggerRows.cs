using BatchScheduler.Scheduling;
using BatchScheduler.Storage;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// The two corrections <c>Scheduling.WorkItemScheduler.ArmAsync</c> makes to the trigger rows Quartz
/// 4.7.3 has just written for it: a never-run item's first fire time moved to its early place in due
/// order, and a regular trigger written over a one-off emptied of the one-off's job data.
/// </summary>
internal static class ArmedTriggerRows
{
    /// <summary>
    /// Empties the job data of regular triggers just written over a one-off. Quartz 4.7.3's
    /// <c>UpdateTrigger</c> rewrites <c>JOB_DATA</c> only from a dirty map, and a regular trigger's empty
    /// map never is, so the row kept the one-off's kind, attempt and due time: Quartz copies that into
    /// the recovery trigger of a crashed firing, which was then judged by the old one-off's due time
    /// (expired without running), and set-based firing skips triggers with job data.
    /// </summary>
    public static async Task ClearJobDataAsync(ConnectionFactory connections, string schedulerName, string dataType, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        foreach (var chunk in names.Chunk(500))
        {
            await using var command = connection.Command(
                $"""
                UPDATE qrtz_triggers SET job_data = NULL
                WHERE sched_name = @sched AND trigger_group = @group AND job_data IS NOT NULL AND overlap_policy IS NULL
                  AND trigger_name IN ({string.Join(", ", chunk.Select((_, i) => $"@n{i}"))})
                """).With("@sched", schedulerName).With("@group", dataType);
            for (var i = 0; i < chunk.Length; i++)
                command.With($"@n{i}", chunk[i]);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Moves never-run items' just-written triggers to their early place in due order. Only a trigger
    /// still waiting at the first fire time Quartz gave it moves: one another node has meanwhile
    /// taken, fired or replaced keeps what it has.
    /// </summary>
    public static async Task MoveAheadAsync(ConnectionFactory connections, string schedulerName, string dataType, IReadOnlyList<(string Name, long Start, long Next)> triggers, CancellationToken cancellationToken)
    {
        if (triggers.Count == 0)
            return;
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE qrtz_triggers SET next_fire_time = @next
            WHERE sched_name = @sched AND trigger_group = @group AND trigger_name = @name
              AND trigger_state IN ('WAITING', 'PAUSED') AND next_fire_time = @start
            """, transaction)
            .With("@sched", schedulerName).With("@group", dataType).With("@name", "").With("@start", 0L).With("@next", 0L);
        foreach (var (name, start, next) in triggers)
        {
            command.Parameters["@name"].Value = name;
            command.Parameters["@start"].Value = start;
            command.Parameters["@next"].Value = next;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }
}

using BatchScheduler.Scheduling;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Quartz's own rows for new work items' regular triggers, written in bulk on PostgreSQL (registration,
/// <c>WorkItems.WorkItemStore</c>): <c>qrtz_triggers</c> and <c>qrtz_simple_triggers</c> exactly as
/// Quartz 4.7.3 writes them for <c>WorkItemTriggers.Regular</c> (a test compares the two column by column).
/// </summary>
internal static class BulkTriggerRows
{
    /// <summary>
    /// Writes Quartz's own rows for a work item's regular trigger, exactly as Quartz 4.7.3 writes them
    /// for <c>WorkItemTriggers.Regular</c> (a test compares the two column by column): a simple trigger
    /// in state WAITING, or PAUSED when Quartz would store it paused (<see cref="State"/>), due at @next (.NET ticks) plus the item's position in its registration (@n, from 1)
    /// minus one, so in request order whatever order the arrays are in (one tick, 100 ns, apart: items due at one identical instant make PostgreSQL pick Quartz's
    /// (state, next fire time) index for its per-trigger claim UPDATE and scan every such trigger,
    /// 0.5 ms per claim at 10,000 items, where distinct times make that index as selective as the
    /// key; Quartz's own <c>StartNow()</c> gives distinct times the same way), repeating every @i ms for ever when @r is -1 or
    /// once when it is 0, misfire instruction FireNow (1) for one-shot and
    /// RescheduleNowWithExistingRepeatCount (2) for repeating, the default overlap policy (NULL),
    /// retry policy none; or, for an item of a cron tier (@c, the expression; null: simple), a cron trigger in
    /// zone @tz with misfire instruction FireAndProceed (1), due at its first tick (@a, computed by the caller);
    /// every trigger carries the data type's quiet-hours calendar @cal (null: none). An item with a runAt ahead (@a, ticks; null: none) is due at it (plus the same
    /// position ticks), with no early placement. Every other item written is new, so never run: its first firing is placed
    /// <c>WorkItemTriggers.NeverRunLead</c> early in due order (@ahead is @next minus that lead), and
    /// a repeating trigger starts one interval after its due time, as <c>WorkItemScheduler.ArmAsync</c>
    /// writes them. Rows whose trigger already exists, or whose job is not stored, are skipped; the
    /// entity ids written come back, so the caller schedules the rest through Quartz. The job's row is
    /// locked (<c>FOR KEY SHARE</c>, once per statement) until the transaction ends, as the foreign key
    /// that schema V007 dropped locked it once per row: the job cannot be deleted under new triggers.
    /// </summary>
    public const string InsertRegularTriggers =
        $"""
        WITH rows AS ({Rows}), inserted AS (
          {Insert}
          ON CONFLICT DO NOTHING
          RETURNING trigger_name
        ), paused_group AS (
          {PausedGroupRow} AND EXISTS (SELECT 1 FROM inserted)
          ON CONFLICT DO NOTHING
        ), cron AS (
          INSERT INTO qrtz_cron_triggers (sched_name, trigger_name, trigger_group, cron_expression, time_zone_id)
          SELECT @sched, rows.trigger_name, @group, rows.cron_expression, @tz
          FROM inserted JOIN rows USING (trigger_name) WHERE rows.cron_expression IS NOT NULL
        )
        INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
        SELECT @sched, rows.trigger_name, @group, rows.repeat_count, rows.repeat_interval, 0
        FROM inserted JOIN rows USING (trigger_name) WHERE rows.cron_expression IS NULL
        RETURNING trigger_name
        """;

    /// <summary>
    /// The trigger rows of <see cref="InsertRegularTriggers"/> without its conflict handling, for
    /// items this transaction inserted (no trigger can exist for them): a plain insert costs a third
    /// less than one that may conflict. Run under a savepoint; on a unique violation (a trigger left
    /// without its item) the caller rolls back to it and runs <see cref="InsertRegularTriggers"/>.
    /// Writes every row or, when the job is not stored, none; then <see cref="InsertNewSimpleTriggers"/>.
    /// </summary>
    public const string InsertNewRegularTriggers =
        $"""
        WITH rows AS ({Rows}), paused_group AS (
          {PausedGroupRow} AND EXISTS (SELECT 1 FROM rows)
          ON CONFLICT DO NOTHING
        )
        {Insert}
        """;

    /// <summary>The simple- and cron-trigger rows for <see cref="InsertNewRegularTriggers"/> (same @sched, @group, @e, @r, @i, @c, @tz).</summary>
    public const string InsertNewSimpleTriggers =
        """
        WITH k AS (
          SELECT * FROM unnest(@e::text[], @r::bigint[], @i::bigint[], @c::text[]) AS k(e, r, i, c)
        ), cron AS (
          INSERT INTO qrtz_cron_triggers (sched_name, trigger_name, trigger_group, cron_expression, time_zone_id)
          SELECT @sched, k.e, @group, k.c, @tz FROM k WHERE k.c IS NOT NULL
        )
        INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
        SELECT @sched, k.e, @group, k.r, k.i, 0
        FROM k WHERE k.c IS NULL
        """;

    /// <summary>
    /// New items and their regular triggers in one statement, for a registration whose items are all new
    /// (none of a sample of them was stored): the <c>work_items</c> rows of @e, @t, @p, @b, @w (runAt) as
    /// <c>Storage.PostgresBulk.InsertWorkItems</c> writes them and, for each item with a repeat count in @r (null for tier
    /// <c>exclude</c>: no trigger), the trigger and simple-trigger rows as <see cref="InsertNewRegularTriggers"/>
    /// and <see cref="InsertNewSimpleTriggers"/> write them, or none when the job is not stored. Returns the
    /// number of triggers written. One statement sends and reads the arrays once, where the three
    /// statements and the existence check sent them four times. Plain inserts: run under a savepoint; on a
    /// unique violation (an item stored after all) the caller rolls back to it and takes the general path.
    /// </summary>
    public const string InsertNewItemsWithTriggers =
        $"""
        WITH u AS (
          SELECT * FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[], @r::bigint[], @i::bigint[], @n::bigint[], @a::bigint[], @c::text[], @w::timestamptz[]) AS u(e, t, p, b, r, i, n, a, c, w)
        ), items AS (
          INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, run_at, state, attempt, created_at, updated_at)
          SELECT @dataType, u.e, u.t, u.p, u.b, u.w, 'never_run', 0, @now, @now FROM u
        ), rows AS (
          SELECT {Columns} FROM u WHERE u.r IS NOT NULL
        ), triggers AS (
          {Insert}
          RETURNING trigger_name
        ), paused_group AS (
          {PausedGroupRow} AND EXISTS (SELECT 1 FROM triggers)
          ON CONFLICT DO NOTHING
        ), simple AS (
          INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
          SELECT @sched, rows.trigger_name, @group, rows.repeat_count, rows.repeat_interval, 0
          FROM rows WHERE rows.cron_expression IS NULL AND EXISTS (SELECT 1 FROM triggers)
        ), cron AS (
          INSERT INTO qrtz_cron_triggers (sched_name, trigger_name, trigger_group, cron_expression, time_zone_id)
          SELECT @sched, rows.trigger_name, @group, rows.cron_expression, @tz
          FROM rows WHERE rows.cron_expression IS NOT NULL AND EXISTS (SELECT 1 FROM triggers)
        )
        SELECT COUNT(*) FROM triggers
        """;

    // An item with a runAt ahead (@a, .NET ticks; null: due now) is due then, as WorkItemTriggers.Regular
    // writes a trigger started at it, and is not placed early: an early fire time would run it at once.
    internal const string Columns =
        """
        u.e AS trigger_name, u.r AS repeat_count, u.i AS repeat_interval, u.c AS cron_expression, COALESCE(u.a + u.n - 1, @ahead + u.n - 1) AS next_fire_time,
                 COALESCE(u.a + u.n - 1, @next + u.n - 1 + CASE WHEN u.r = 0 THEN 0 ELSE u.i * 10000 END) AS start_time
        """;

    private const string Rows =
        $"""
        SELECT {Columns}
          FROM unnest(@e::text[], @r::bigint[], @i::bigint[], @n::bigint[], @a::bigint[], @c::text[]) AS u(e, r, i, n, a, c)
        """;

    /// <summary>
    /// The state Quartz 4.7.3 stores a new trigger of group @group (job group @jobGroup) in
    /// (<c>AdoJobStoreBase.ApplyPausedGroupState</c>): PAUSED when its trigger group is paused, when all groups
    /// are (Quartz's <c>_$_ALL_GROUPS_PAUSED_$_</c> row) or when its job group is; else WAITING. A paused
    /// trigger written WAITING would fire, have its start refused and come back as a paused one-off, one by
    /// one, with the other data types' items due after it waiting their turn. The pause rows read are
    /// locked (<c>FOR KEY SHARE</c>) until the transaction ends, as Quartz reads them under its
    /// <c>TRIGGER_ACCESS</c> lock: a resume deleting one waits, then resumes these triggers too, where it would
    /// otherwise miss them and leave them paused. A pause committed after this statement's snapshot is not
    /// seen: those triggers are written WAITING and their firings refused by the start statement.
    /// </summary>
    internal const string State =
        """
        SELECT CASE WHEN EXISTS (SELECT 1 FROM qrtz_paused_trigger_grps g
                                 WHERE g.sched_name = @sched AND g.trigger_group IN (@group, '_$_ALL_GROUPS_PAUSED_$_')
                                 FOR KEY SHARE)
                      OR EXISTS (SELECT 1 FROM qrtz_paused_job_grps g
                                 WHERE g.sched_name = @sched AND g.job_group = @jobGroup
                                 FOR KEY SHARE)
                    THEN 'PAUSED' ELSE 'WAITING' END
        """;

    /// <summary>
    /// The row Quartz writes for the group when it stores a trigger while all groups are paused and the group
    /// has no row of its own, so that resuming the group alone resumes it. Completed by a condition that
    /// triggers are written, and <c>ON CONFLICT DO NOTHING</c>.
    /// </summary>
    internal const string PausedGroupRow =
        """
        INSERT INTO qrtz_paused_trigger_grps (sched_name, trigger_group)
          SELECT @sched, @group
          WHERE EXISTS (SELECT 1 FROM qrtz_paused_trigger_grps g WHERE g.sched_name = @sched AND g.trigger_group = '_$_ALL_GROUPS_PAUSED_$_')
            AND NOT EXISTS (SELECT 1 FROM qrtz_paused_trigger_grps g WHERE g.sched_name = @sched AND g.trigger_group = @group)
        """;

    internal const string Insert =
        $"""
        INSERT INTO qrtz_triggers (sched_name, trigger_name, trigger_group, job_name, job_group, next_fire_time, priority,
                                     trigger_state, trigger_type, start_time, misfire_instr, preferred_node_auto,
                                     retry_policy, retry_attempt, overlap_policy, calendar_name)
          SELECT @sched, rows.trigger_name, @group, @jobName, @jobGroup, rows.next_fire_time, 5,
                 ({State}), CASE WHEN rows.cron_expression IS NULL THEN 'SIMPLE' ELSE 'CRON' END, rows.start_time,
                 CASE WHEN rows.cron_expression IS NOT NULL THEN 1 WHEN rows.repeat_count = 0 THEN 1 ELSE 2 END, false,
                 'none', 0, NULL, @cal
          FROM rows
          WHERE EXISTS (SELECT 1 FROM qrtz_job_details j
                        WHERE j.sched_name = @sched AND j.job_name = @jobName AND j.job_group = @jobGroup
                        FOR KEY SHARE)
        """;
}

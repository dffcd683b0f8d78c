namespace BatchScheduler.Storage;

/// <summary>
/// PostgreSQL statements that take whole arrays (<c>unnest</c>) instead of one row per statement or
/// hundreds of parameters: registration and the coordinator's batched writes cost one round trip
/// for thousands of rows.
/// </summary>
internal static class PostgresBulk
{
    /// <summary>
    /// Existing rows among @ids, with whether each has a trigger (@sched, @dataType): a trigger row, or
    /// a firing of it under way (as <see cref="SqlDialect.TriggerOrFiring"/>). Written as one index
    /// probe per id (<c>LATERAL … LIMIT 1</c>): for 10,000 ids PostgreSQL otherwise planned
    /// <c>entity_id = ANY(@ids)</c> as a scan of the whole table (52 ms at 200,000 items, growing with
    /// the table) and the trigger checks as scans of all triggers (270 ms); probed, 15 ms for new items
    /// and 66 ms for stored ones.
    /// </summary>
    public const string ExistingItems =
        """
        SELECT w.entity_id, w.tier, w.updates_end, w.state, COALESCE(t.trigger_name, f.trigger_name) AS trigger_name
        FROM unnest(@ids::text[]) AS u(e)
        CROSS JOIN LATERAL (SELECT * FROM work_items WHERE work_items.data_type = @dataType AND work_items.entity_id = u.e LIMIT 1) AS w
        LEFT JOIN LATERAL (SELECT t.trigger_name FROM qrtz_triggers t
                           WHERE t.sched_name = @sched AND t.trigger_name = w.entity_id AND t.trigger_group = w.data_type LIMIT 1) AS t ON true
        LEFT JOIN LATERAL (SELECT f.trigger_name FROM qrtz_fired_triggers f
                           WHERE f.sched_name = @sched AND f.trigger_name = w.entity_id AND f.trigger_group = w.data_type LIMIT 1) AS f ON true
        """;

    /// <summary>
    /// Insert of new rows, parallel arrays @e, @t, @p, @b for @dataType at @now, as <see cref="UpsertWorkItems"/>
    /// inserts them, for items not stored when the transaction read them: a plain insert costs less than
    /// an upsert. Run under a savepoint; on a unique violation (another registration stored one first)
    /// the caller rolls back to it and upserts.
    /// </summary>
    public const string InsertWorkItems =
        """
        INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, state, attempt, created_at, updated_at)
        SELECT @dataType, u.e, u.t, u.p, u.b, 'never_run', 0, @now, @now
        FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[]) AS u(e, t, p, b)
        """;

    /// <summary>Upsert of parallel arrays @e, @t, @p, @b for @dataType at @now (same rules as <see cref="SqlDialect.UpsertWorkItems"/>).</summary>
    public const string UpsertWorkItems =
        """
        INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, state, attempt, created_at, updated_at)
        SELECT @dataType, u.e, u.t, u.p, u.b, 'never_run', 0, @now, @now
        FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[]) AS u(e, t, p, b)
        ON CONFLICT (data_type, entity_id) DO UPDATE
        SET tier = excluded.tier, payload = excluded.payload,
            batch_id = COALESCE(excluded.batch_id, work_items.batch_id), updated_at = excluded.updated_at
        """;

    /// <summary>
    /// Writes Quartz's own rows for a work item's regular trigger, exactly as Quartz 4.7.3 writes them
    /// for <c>WorkItemTriggers.Regular</c> (a test compares the two column by column): a simple trigger
    /// in state WAITING, due at @next (.NET ticks) plus the item's position in its registration (@n, from 1)
    /// minus one, so in request order whatever order the arrays are in (one tick, 100 ns, apart: items due at one identical instant make PostgreSQL pick Quartz's
    /// (state, next fire time) index for its per-trigger claim UPDATE and scan every such trigger,
    /// 0.5 ms per claim at 10,000 items, where distinct times make that index as selective as the
    /// key; Quartz's own <c>StartNow()</c> gives distinct times the same way), repeating every @i ms for ever when @r is -1 or
    /// once when it is 0, misfire instruction FireNow (1) for one-shot and
    /// RescheduleNowWithExistingRepeatCount (2) for repeating, the default overlap policy (NULL),
    /// retry policy none. Every item written is new, so never run: its first firing is placed
    /// <c>WorkItemTriggers.NeverRunLead</c> early in due order (@ahead is @next minus that lead), and
    /// a repeating trigger starts one interval after its due time, as <c>WorkItemScheduler.ArmAsync</c>
    /// writes them. Rows whose trigger already exists, or whose job is not stored, are skipped; the
    /// entity ids written come back, so the caller schedules the rest through Quartz. The job's row is
    /// locked (<c>FOR KEY SHARE</c>, once per statement) until the transaction ends, as the foreign key
    /// that schema V007 dropped locked it once per row: the job cannot be deleted under new triggers.
    /// </summary>
    public const string InsertRegularTriggers =
        $"""
        WITH rows AS ({TriggerRows}), inserted AS (
          {TriggerInsert}
          ON CONFLICT DO NOTHING
          RETURNING trigger_name
        )
        INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
        SELECT @sched, rows.trigger_name, @group, rows.repeat_count, rows.repeat_interval, 0
        FROM inserted JOIN rows USING (trigger_name)
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
        WITH rows AS ({TriggerRows})
        {TriggerInsert}
        """;

    /// <summary>The simple-trigger rows for <see cref="InsertNewRegularTriggers"/> (same @sched, @group, @e, @r, @i).</summary>
    public const string InsertNewSimpleTriggers =
        """
        INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
        SELECT @sched, u.e, @group, u.r, u.i, 0
        FROM unnest(@e::text[], @r::bigint[], @i::bigint[]) AS u(e, r, i)
        """;

    /// <summary>
    /// New items and their regular triggers in one statement, for a registration whose items are all new
    /// (none of a sample of them was stored): the <c>work_items</c> rows of @e, @t, @p, @b as
    /// <see cref="InsertWorkItems"/> writes them and, for each item with a repeat count in @r (null for tier
    /// <c>exclude</c>: no trigger), the trigger and simple-trigger rows as <see cref="InsertNewRegularTriggers"/>
    /// and <see cref="InsertNewSimpleTriggers"/> write them, or none when the job is not stored. Returns the
    /// number of triggers written. One statement sends and reads the arrays once, where the three
    /// statements and the existence check sent them four times. Plain inserts: run under a savepoint; on a
    /// unique violation (an item stored after all) the caller rolls back to it and takes the general path.
    /// </summary>
    public const string InsertNewItemsWithTriggers =
        $"""
        WITH u AS (
          SELECT * FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[], @r::bigint[], @i::bigint[], @n::bigint[]) AS u(e, t, p, b, r, i, n)
        ), items AS (
          INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, state, attempt, created_at, updated_at)
          SELECT @dataType, u.e, u.t, u.p, u.b, 'never_run', 0, @now, @now FROM u
        ), rows AS (
          SELECT {TriggerColumns} FROM u WHERE u.r IS NOT NULL
        ), triggers AS (
          {TriggerInsert}
          RETURNING trigger_name
        ), simple AS (
          INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
          SELECT @sched, rows.trigger_name, @group, rows.repeat_count, rows.repeat_interval, 0
          FROM rows WHERE EXISTS (SELECT 1 FROM triggers)
        )
        SELECT COUNT(*) FROM triggers
        """;

    private const string TriggerColumns =
        """
        u.e AS trigger_name, u.r AS repeat_count, u.i AS repeat_interval, @ahead + u.n - 1 AS next_fire_time,
                 @next + u.n - 1 + CASE WHEN u.r = 0 THEN 0 ELSE u.i * 10000 END AS start_time
        """;

    private const string TriggerRows =
        $"""
        SELECT {TriggerColumns}
          FROM unnest(@e::text[], @r::bigint[], @i::bigint[], @n::bigint[]) AS u(e, r, i, n)
        """;

    private const string TriggerInsert =
        """
        INSERT INTO qrtz_triggers (sched_name, trigger_name, trigger_group, job_name, job_group, next_fire_time, priority,
                                     trigger_state, trigger_type, start_time, misfire_instr, preferred_node_auto,
                                     retry_policy, retry_attempt, overlap_policy)
          SELECT @sched, rows.trigger_name, @group, @jobName, @jobGroup, rows.next_fire_time, 5,
                 'WAITING', 'SIMPLE', rows.start_time, CASE WHEN rows.repeat_count = 0 THEN 1 ELSE 2 END, false,
                 'none', 0, NULL
          FROM rows
          WHERE EXISTS (SELECT 1 FROM qrtz_job_details j
                        WHERE j.sched_name = @sched AND j.job_name = @jobName AND j.job_group = @jobGroup
                        FOR KEY SHARE)
        """;

    /// <summary>
    /// Marks attempts started (parallel arrays @d, @e, @a attempt, @s start time) for node @node, each
    /// under the same guard as <see cref="SqlDialect.BeginAttempt"/> (the caller holds every item's
    /// claim, so "this node no longer runs it" holds for its own rows); returns the rows that started.
    /// </summary>
    public const string BeginAttempts =
        $"""
        UPDATE work_items
        SET state = 'in_flight', updates_start = u.s, attempt = u.a, node_id = @node, updated_at = u.s,
            fence = GREATEST(work_items.fence + 1, u.f)
        FROM unnest(@d::text[], @e::text[], @a::integer[], @s::timestamptz[], @ns::timestamptz[], @f::bigint[]) AS u(d, e, a, s, ns, f)
        WHERE work_items.data_type = u.d AND work_items.entity_id = u.e
          AND (work_items.updates_start IS NULL OR work_items.updates_start < u.ns)
          AND (work_items.tier IS NULL OR work_items.tier <> 'exclude')
          AND (work_items.state <> 'in_flight' OR work_items.node_id IS NULL OR work_items.node_id = @node
               OR {SqlDialect.OwnerNotAlive})
        RETURNING work_items.data_type, work_items.entity_id, work_items.tier, work_items.payload, work_items.fence
        """;

    /// <summary>
    /// Writes <c>updates_end</c> for successful attempts (parallel arrays @d, @e, @t end time, @f fence),
    /// each only while the row still carries the attempt's fence; returns the rows written.
    /// </summary>
    public const string CompleteAttempts =
        """
        UPDATE work_items
        SET state = 'completed', updates_end = u.t, last_error = NULL, updated_at = u.t
        FROM unnest(@d::text[], @e::text[], @t::timestamptz[], @f::bigint[]) AS u(d, e, t, f)
        WHERE work_items.data_type = u.d AND work_items.entity_id = u.e AND work_items.fence = u.f
        RETURNING work_items.data_type, work_items.entity_id
        """;
}

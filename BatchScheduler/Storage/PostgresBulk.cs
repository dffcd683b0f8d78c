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
        $"""
        SELECT w.entity_id, w.tier, w.updates_end, w.state, COALESCE(t.trigger_name, f.trigger_name) AS trigger_name,
               {SqlDialect.OwedRunAt} AS owed_run_at
        FROM unnest(@ids::text[]) AS u(e)
        CROSS JOIN LATERAL (SELECT * FROM work_items WHERE work_items.data_type = @dataType AND work_items.entity_id = u.e LIMIT 1) AS w
        LEFT JOIN LATERAL (SELECT t.trigger_name FROM qrtz_triggers t
                           WHERE t.sched_name = @sched AND t.trigger_name = w.entity_id AND t.trigger_group = w.data_type LIMIT 1) AS t ON true
        LEFT JOIN LATERAL (SELECT f.trigger_name FROM qrtz_fired_triggers f
                           WHERE f.sched_name = @sched AND f.trigger_name = w.entity_id AND f.trigger_group = w.data_type LIMIT 1) AS f ON true
        """;

    /// <summary>
    /// Insert of new rows, parallel arrays @e, @t, @p, @b, @w (runAt) for @dataType at @now, as <see cref="UpsertWorkItems"/>
    /// inserts them, for items not stored when the transaction read them: a plain insert costs less than
    /// an upsert. Run under a savepoint; on a unique violation (another registration stored one first)
    /// the caller rolls back to it and upserts.
    /// </summary>
    public const string InsertWorkItems =
        """
        INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, run_at, state, attempt, created_at, updated_at)
        SELECT @dataType, u.e, u.t, u.p, u.b, u.w, 'never_run', 0, @now, @now
        FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[], @w::timestamptz[]) AS u(e, t, p, b, w)
        """;

    /// <summary>Upsert of parallel arrays @e, @t, @p, @b, @w (runAt) for @dataType at @now (same rules as <see cref="SqlDialect.UpsertWorkItems"/>).</summary>
    public const string UpsertWorkItems =
        $"""
        INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, run_at, state, attempt, created_at, updated_at)
        SELECT @dataType, u.e, u.t, u.p, u.b, u.w, 'never_run', 0, @now, @now
        FROM unnest(@e::text[], @t::text[], @p::text[], @b::text[], @w::timestamptz[]) AS u(e, t, p, b, w)
        ON CONFLICT (data_type, entity_id) DO UPDATE
        SET tier = excluded.tier, payload = excluded.payload,
            batch_id = COALESCE(excluded.batch_id, work_items.batch_id), updated_at = excluded.updated_at,
            {SqlDialect.RunAtSetExcluded}
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
          AND {SqlDialect.NotPaused}
          AND (work_items.state <> 'in_flight' OR work_items.node_id IS NULL OR work_items.node_id = @node
               OR {SqlDialect.OwnerNotAlive})
        RETURNING work_items.data_type, work_items.entity_id, work_items.tier, work_items.payload, work_items.fence
        """;

    /// <summary>
    /// The paused data types, read by a statement of its own right after a start (in the same round trip): a
    /// start whose statement took its snapshot before a data type's pause committed, then waited for the item's
    /// row, passes <see cref="SqlDialect.NotPaused"/> (PostgreSQL re-checks only the row itself once it has it);
    /// this later statement sees the pause, and the attempt is handed back unrun.
    /// </summary>
    public const string PausedGroups = "SELECT trigger_group FROM qrtz_paused_trigger_grps WHERE sched_name = @sched";

    /// <summary>
    /// Writes <c>updates_end</c> for successful attempts (parallel arrays @d, @e, @t end time, @f fence),
    /// each only while the row still carries the attempt's fence; returns the rows written.
    /// </summary>
    public const string CompleteAttempts =
        $"""
        UPDATE work_items
        SET {SqlDialect.WriteCompleted}, updates_end = u.t, last_error = NULL, updated_at = u.t
        FROM unnest(@d::text[], @e::text[], @t::timestamptz[], @f::bigint[]) AS u(d, e, t, f)
        WHERE work_items.data_type = u.d AND work_items.entity_id = u.e AND work_items.fence = u.f
        RETURNING work_items.data_type, work_items.entity_id
        """;
}

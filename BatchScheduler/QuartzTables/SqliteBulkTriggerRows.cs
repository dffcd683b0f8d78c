namespace BatchScheduler.QuartzTables;

/// <summary>
/// <see cref="BulkTriggerRows"/> on SQLite, which has no arrays and no writing common table expressions: the
/// rows come as one JSON parameter, @rows, an array of <c>[entity id, repeat count, interval ms, position, due ticks, cron]</c>
/// (the arrays @e, @r, @i, @n, @a, @c of the PostgreSQL statements, row by row), read with <c>json_each</c>; the
/// trigger rows go first, and the simple- and cron-trigger rows of those written after them. The rows are
/// <see cref="BulkTriggerRows"/>' own (its column expressions, state and insert), without PostgreSQL's row
/// locks: SQLite has one writer, and the registration's transaction (<c>BEGIN IMMEDIATE</c>) holds the
/// write lock from its first statement, so Quartz cannot pause a group or delete the job in between.
/// </summary>
internal static class SqliteBulkTriggerRows
{
    /// <summary>The rows of @rows as <see cref="BulkTriggerRows.Columns"/> names them.</summary>
    private const string Rows =
        $"""
        SELECT {BulkTriggerRows.Columns}
        FROM (SELECT value ->> 0 AS e, value ->> 1 AS r, value ->> 2 AS i, value ->> 3 AS n, value ->> 4 AS a, value ->> 5 AS c
              FROM json_each(@rows)) AS u
        """;

    /// <summary>
    /// Quartz's <c>qrtz_triggers</c> rows for @rows as <see cref="BulkTriggerRows.InsertRegularTriggers"/> writes
    /// them: none when the job is not stored, none for a trigger that exists. Returns the trigger names written.
    /// </summary>
    public static readonly string InsertTriggers =
        $"""
        WITH rows AS ({Rows})
        {WithoutRowLocks(BulkTriggerRows.Insert)}
        ON CONFLICT DO NOTHING
        RETURNING trigger_name
        """;

    /// <summary>
    /// The rows that go with triggers <see cref="InsertTriggers"/> wrote (@rows, only those): the group's paused
    /// row when all groups are paused (<see cref="BulkTriggerRows.PausedGroupRow"/>), the simple-trigger rows and
    /// the cron-trigger rows (zone @tz).
    /// </summary>
    public const string InsertTriggerDetails =
        $"""
        {BulkTriggerRows.PausedGroupRow};
        INSERT INTO qrtz_simple_triggers (sched_name, trigger_name, trigger_group, repeat_count, repeat_interval, times_triggered)
        SELECT @sched, value ->> 0, @group, value ->> 1, value ->> 2, 0 FROM json_each(@rows) WHERE value ->> 5 IS NULL;
        INSERT INTO qrtz_cron_triggers (sched_name, trigger_name, trigger_group, cron_expression, time_zone_id)
        SELECT @sched, value ->> 0, @group, value ->> 5, @tz FROM json_each(@rows) WHERE value ->> 5 IS NOT NULL;
        """;

    private static string WithoutRowLocks(string sql) => sql.Replace("FOR KEY SHARE", "", StringComparison.Ordinal);
}

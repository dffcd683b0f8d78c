namespace BatchScheduler.Storage;

/// <summary>
/// SQLite's <see cref="PostgresBulk"/>: a registration's rows as one JSON parameter, @rows, read with
/// <c>json_each</c>, rather than six parameters a row. Microsoft.Data.Sqlite binds each parameter by name, and
/// SQLite finds a name by walking the statement's list of them, so a 500-row statement's 3,000 parameters cost
/// more to bind than its rows cost to write.
/// </summary>
internal static class SqliteBulk
{
    /// <summary>
    /// <see cref="SqlDialect.UpsertWorkItems"/> over @rows, <c>[[entity id, tier, payload, batch id, runAt], …]</c>
    /// (runAt as Microsoft.Data.Sqlite stores a time: <see cref="Time"/>), for @dataType at @now, in the array's order; on
    /// conflict, <see cref="PostgresBulk.UpsertWorkItems"/>' update.
    /// </summary>
    public static readonly string UpsertWorkItems =
        $"""
        INSERT INTO work_items (data_type, entity_id, tier, payload, batch_id, run_at, state, attempt, created_at, updated_at)
        SELECT @dataType, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 'never_run', 0, @now, @now
        FROM json_each(@rows) WHERE true
        {PostgresBulk.UpsertWorkItems[PostgresBulk.UpsertWorkItems.IndexOf("ON CONFLICT", StringComparison.Ordinal)..]}
        """;

    /// <summary>
    /// The stored rows among @ids (a JSON array of entity ids) of @dataType, with whether each has a trigger or a
    /// firing of it under way (@sched), as <see cref="PostgresBulk.ExistingItems"/> reads them. <c>CROSS JOIN</c>
    /// makes SQLite probe the key once per id: with a plain join it planned a scan of the data type's items per
    /// id, quadratic in the registration's size.
    /// </summary>
    public const string ExistingItems =
        $"""
        SELECT work_items.entity_id, work_items.tier, work_items.updates_end, work_items.state,
               CASE WHEN {SqlDialect.TriggerOrFiring} THEN work_items.entity_id END AS trigger_name,
               {SqlDialect.OwedRunAt} AS owed_run_at
        FROM json_each(@ids) AS ids
        CROSS JOIN work_items ON work_items.data_type = @dataType AND work_items.entity_id = ids.value
        """;

    /// <summary>A time as Microsoft.Data.Sqlite writes a <see cref="DateTimeOffset"/> parameter, so that it reads back as one.</summary>
    public static string? Time(DateTimeOffset? value) =>
        value?.ToString(@"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFFzzz", System.Globalization.CultureInfo.InvariantCulture);
}

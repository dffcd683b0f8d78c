namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// The SQL texts in the source that no SQL Server store issues, each with why: PostgreSQL's and SQLite's
/// own paths, and the standard dialect's spellings that <c>SqlServerDialect</c> overrides. A text is
/// matched by file, member and the start of its first piece; an entry that matches nothing fails
/// <c>SqlServerStatementTests</c> too, so the list cannot keep stale excuses.
/// </summary>
internal static class NotSqlServer
{
    /// <param name="Member">Type.member as <see cref="SqlText.Member"/> names it; empty for every text of the file.</param>
    /// <param name="Starts">What the text's first piece starts with; empty for any.</param>
    internal sealed record Entry(string File, string Member, string Starts, string Why);

    public static readonly IReadOnlyList<Entry> Entries =
    [
        new("BatchScheduler/Audit/AuditStore.cs", "AuditStore.AddAsync", "SET LOCAL", "PostgreSQL only: the insert's commit without a WAL flush (AuditStore: `postgres ?`)."),
        new("BatchScheduler/Batches/BatchStore.cs", "BatchStore.AddRecordsAsync", "INSERT INTO batch_records (batch_id, line, entity_id, data_type, tier, payload, outcome, reason, run_at) SELECT", "PostgreSQL only: records from arrays (unnest); SQL Server takes the multi-row VALUES branch."),
        new("BatchScheduler/Lifecycle/ItemRows.cs", "ItemRows.LockManyAsync", "unnest(", "PostgreSQL only: the provider switch's PostgreSQL arm; SQL Server's arm is the UPDLOCK hint and IN list."),
        new("BatchScheduler/Lifecycle/ItemRows.cs", "ItemRows.LockManyAsync", "ORDER BY u.n FOR UPDATE", "PostgreSQL only: the provider switch's PostgreSQL arm."),
        new("BatchScheduler/Lifecycle/ItemRows.cs", "LockedRow.MoveTriggerAsync", "", "PostgreSQL only: MovesTriggerInPlace is true for `Provider == Postgres` alone; elsewhere the catch-up re-arms through Quartz."),
        new("BatchScheduler/QuartzTables/BatchedCompletionJobStore.cs", "", "", "PostgreSQL only: the job store decorator is registered for PostgreSQL alone (QuartzServiceCollectionExtensions)."),
        new("BatchScheduler/QuartzTables/BulkTriggerRows.cs", "", "", "PostgreSQL only: bulk trigger rows are written on PostgreSQL alone (WorkItemStore.RegisterOnceAsync: `Provider == Postgres`)."),
        new("BatchScheduler/QuartzTables/SqliteBulkTriggerRows.cs", "", "", "SQLite only: bulk trigger rows (json_each) are written on SQLite alone (WorkItemStore.InsertTriggersAsync: `Provider == Sqlite`)."),
        new("BatchScheduler/Storage/SqliteBulk.cs", "", "", "SQLite only: registration's rows as JSON (json_each), each call guarded by `Provider == Sqlite`."),
        new("BatchScheduler/QuartzTables/PausedGroupResume.cs", "", "", "PostgreSQL only: WorkItemScheduler calls it when `Provider == Postgres`; elsewhere Quartz's own resume runs."),
        new("BatchScheduler/QuartzTables/RecoveredFirings.cs", "RecoveredFirings.MoveAheadPostgres", "", "PostgreSQL only: MoveAheadAsync picks it when `provider == Postgres`."),
        new("BatchScheduler/QuartzTables/StuckTriggerRepair.cs", "StuckTriggerRepair.ResumeStrayPausedAsync", "FOR UPDATE SKIP LOCKED", "PostgreSQL only: the provider switch's PostgreSQL arm; SQL Server's is the READPAST hint."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.DeleteChunk", "DELETE FROM", "PostgreSQL and SQLite: the base dialect's chunked delete (LIMIT); SqlServerDialect overrides it with DELETE TOP."),
        new("BatchScheduler/QuartzTables/SetFiringRounds.cs", "", "", "PostgreSQL only: set-based firing is registered for PostgreSQL alone (QuartzServiceCollectionExtensions)."),
        new("BatchScheduler/QuartzTables/StuckTriggerRepair.cs", "StuckTriggerRepair.ResumeStrayPausedAsync", "SELECT 1 FROM qrtz_locks WHERE sched_name = @sched AND lock_name = 'TRIGGER_ACCESS' FOR UPDATE", "PostgreSQL only: the lock statement's PostgreSQL arm; SQL Server's is the UPDLOCK one."),
        new("BatchScheduler/Scheduling/ClusterWake.cs", "ClusterWake.NotifyAsync", "SELECT pg_notify", "PostgreSQL only: NotifyAsync returns first on any other provider."),
        new("BatchScheduler/Stats/MinuteStats.cs", "MinuteStats.Upsert", "", "PostgreSQL and SQLite: SQL Server's is MinuteStats.SqlServerUpsert."),
        new("BatchScheduler/Stats/MinuteStats.cs", "MinuteStats.Claim", "", "PostgreSQL and SQLite: SQL Server's is MinuteStats.SqlServerClaim."),
        new("BatchScheduler/Storage/PostgresBulk.cs", "", "", "PostgreSQL only: array (unnest) statements, each call guarded by `Provider == Postgres`."),
        new("BatchScheduler/Storage/PostgresStatistics.cs", "", "", "PostgreSQL only: statistics targets and ANALYZE, skipped on other providers."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.UpsertWorkItems", "", "PostgreSQL and SQLite (ON CONFLICT): SqlServerDialect overrides it with MERGE."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.RunAtSetExcluded", "", "PostgreSQL and SQLite (excluded.*): part of the ON CONFLICT upsert SqlServerDialect replaces."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.BeginAttempt", "", "PostgreSQL and SQLite (RETURNING): SqlServerDialect overrides it with OUTPUT."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.Page", "", "PostgreSQL and SQLite (LIMIT): SqlServerDialect overrides it with OFFSET … FETCH."),
        new("BatchScheduler/Storage/SqlDialect.cs", "SqlDialect.EnsureVendorWindow", "", "PostgreSQL and SQLite (ON CONFLICT): SqlServerDialect overrides it."),
        new("BatchScheduler.PostgreSql/PostgresMigrationTarget.cs", "", "", "PostgreSQL's store package."),
        new("BatchScheduler.Sqlite/SqliteAddColumnGuard.cs", "", "", "SQLite's store package."),
    ];

    public static bool Covers(SqlText text) => Entries.Any(e => Matches(e, text));

    public static bool Matches(Entry entry, SqlText text) =>
        text.File == entry.File && (entry.Member.Length == 0 || text.Member == entry.Member)
        && (text.Pieces.Count == 0 ? "" : text.Pieces[0]).StartsWith(entry.Starts, StringComparison.Ordinal);
}

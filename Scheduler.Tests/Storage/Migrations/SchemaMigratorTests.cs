using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Storage.Migrations;

public sealed class SchemaMigratorTests(ITestOutputHelper output)
{
    private static readonly string[] AllScripts = ["V001__quartz_tables.sql", "V002__batchscheduler_tables.sql", "V003__vendor_credits.sql", "V004__health_counts_index.sql", "V005__batches.sql", "V006__stats_minutely.sql", "V007__quartz_trigger_write_costs.sql", "V008__quartz_lookup_indexes.sql", "V009__work_item_fence.sql", "V010__quartz_recovery_trigger_index.sql", "V011__run_at_and_pause.sql", "V012__run_at_fence_and_batch_records.sql", "V013__node_data_types.sql", "V014__attempt_cancel.sql", "V015__bulk_actions.sql", "V016__audit_log.sql", "V017__quartz_trigger_group_due_index.sql", "V018__ops_views.sql", "V019__retention_indexes.sql"];

    private readonly AnyStoreMigrator _migrator = new(new TestOutputLogger<SchemaMigrator>(output));

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigrateAsync_FreshSqliteFile_AppliesEveryScriptThenNothing()
    {
        using var database = new SqliteTestDatabase();

        var first = await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);
        var second = await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);

        Assert.Equal(AllScripts, first);
        Assert.Empty(second);
        Assert.Equal(AllScripts, await JournalAsync(StorageProvider.Sqlite, database.ConnectionString));
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Sqlite, database.ConnectionString, "SELECT COUNT(*) FROM work_items"));
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Sqlite, database.ConnectionString, "SELECT COUNT(*) FROM failures"));
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigrateAsync_SqliteFileInMissingDirectory_CreatesItAndSwitchesToWal()
    {
        using var database = new SqliteTestDatabase();
        Assert.False(Directory.Exists(database.DirectoryPath));

        await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);

        Assert.True(File.Exists(database.FilePath));
        var mode = await DatabaseQueries.ScalarAsync(StorageProvider.Sqlite, database.ConnectionString, "PRAGMA journal_mode");
        Assert.Equal("wal", mode);
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigrateAsync_ScriptFails_ThrowsNamingScriptAndErrorAndKeepsEarlierScripts()
    {
        using var database = new SqliteTestDatabase();
        Directory.CreateDirectory(database.DirectoryPath);
        // A leftover table of the same name without the state column: V002's index on it must fail.
        await using (var connection = new SqliteConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE work_items (data_type text, entity_id text)";
            await command.ExecuteNonQueryAsync();
        }

        var failure = await Assert.ThrowsAsync<SchemaMigrationException>(
            () => _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None));

        Assert.Equal("V002__batchscheduler_tables.sql", failure.ScriptName);
        Assert.Contains("V002__batchscheduler_tables.sql", failure.Message);
        Assert.Contains("no such column: state", failure.Message);
        Assert.Equal(["V001__quartz_tables.sql"], await JournalAsync(StorageProvider.Sqlite, database.ConnectionString));
        // V002 ran in one transaction: the failures table it created before the error was rolled back.
        Assert.Equal(0, await DatabaseQueries.CountAsync(
            StorageProvider.Sqlite, database.ConnectionString, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'failures'"));
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigrateAsync_ScriptsAlreadyRunByHand_SucceedsAndJournalsThem()
    {
        // The README's by-hand install: sqlite3 < V001 < V002, then a node starts and migrates.
        using var database = new SqliteTestDatabase();
        Directory.CreateDirectory(database.DirectoryPath);
        await using (var connection = new SqliteConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var script in MigrationScripts.For(StorageProvider.Sqlite))
            {
                await using var command = connection.CreateCommand();
                command.CommandText = script.Contents;
                await command.ExecuteNonQueryAsync();
            }
        }

        var applied = await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);

        Assert.Equal(AllScripts, applied);
        Assert.Equal(AllScripts, await JournalAsync(StorageProvider.Sqlite, database.ConnectionString));
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigratedSchema_Sqlite_RejectsAnUnknownWorkItemState()
    {
        using var database = new SqliteTestDatabase();
        await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);

        var error = await Assert.ThrowsAsync<SqliteException>(() => DatabaseQueries.ScalarAsync(
            StorageProvider.Sqlite,
            database.ConnectionString,
            "INSERT INTO work_items (data_type, entity_id, state, created_at, updated_at) VALUES ('d', 'e', 'running', 'x', 'x')"));

        Assert.Contains("CHECK constraint failed", error.Message);
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigrateAsync_FreshPostgresDatabase_AppliesEveryScriptThenNothing()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();

        var first = await _migrator.MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);
        var second = await _migrator.MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);

        Assert.Equal(AllScripts, first);
        Assert.Empty(second);
        Assert.Equal(AllScripts, await JournalAsync(StorageProvider.Postgres, database.ConnectionString));
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, "SELECT COUNT(*) FROM work_items"));
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, "SELECT COUNT(*) FROM failures"));
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigrateAsync_Postgres_V007AndV008LeaveQuartzsTriggerTablesWithoutKeysNorJobAndGroupIndexes_AndRunAgainByHand()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await _migrator.MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);
        const string keys = "SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'qrtz%'";
        const string partial = "SELECT COUNT(*) FROM pg_index WHERE indexrelid = 'idx_qrtz_t_c'::regclass AND indpred IS NOT NULL";
        const string lookups = "SELECT COUNT(*) FROM pg_indexes WHERE indexname IN ('idx_qrtz_t_j', 'idx_qrtz_t_g_n')";
        const string kept = "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'qrtz_triggers'";
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, keys));
        Assert.Equal(1, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, partial));
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, lookups));
        var indexes = await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, kept);

        // The scripts are safe to run again by hand, in order (psql -f): V001 puts no key back but
        // recreates the two indexes (CREATE INDEX IF NOT EXISTS), which V008 drops again.
        foreach (var name in new[] { "V001__quartz_tables.sql", "V007__quartz_trigger_write_costs.sql", "V008__quartz_lookup_indexes.sql" })
        {
            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            await using var again = new NpgsqlCommand(MigrationScripts.For(StorageProvider.Postgres).Single(s => s.Name == name).Contents, connection);
            await again.ExecuteNonQueryAsync();
        }
        Assert.Equal(0, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, keys));
        Assert.Equal(1, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, partial));
        Assert.Equal(indexes, await DatabaseQueries.CountAsync(StorageProvider.Postgres, database.ConnectionString, kept));
        // Quartz looks triggers up by calendar with calendar_name = @name, which the partial index serves.
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var plan = new NpgsqlCommand(
                "SET enable_seqscan = off; EXPLAIN SELECT trigger_name FROM qrtz_triggers WHERE sched_name = 'x' AND calendar_name = 'c'", connection);
            var lines = new List<string>();
            await using var reader = await plan.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                lines.Add(reader.GetString(0));
            Assert.Contains(lines, l => l.Contains("idx_qrtz_t_c", StringComparison.Ordinal));
        }
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigrateAsync_TwoNodesAtOnceOnPostgres_BothSucceedAndEachScriptIsJournaledOnce()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var nodes = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await new AnyStoreMigrator(new TestOutputLogger<SchemaMigrator>(output))
                .MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);
        })).ToArray();

        start.SetResult();
        var results = await Task.WhenAll(nodes);

        Assert.Equal(AllScripts, results.SelectMany(r => r).Order(StringComparer.Ordinal));
        Assert.Contains(results, r => r.Count == 0);
        Assert.Equal(AllScripts, await JournalAsync(StorageProvider.Postgres, database.ConnectionString));
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigrateAsync_PostgresDatabaseMissing_FailsNamingItAndCreatesNothing()
    {
        var missing = $"bs_missing_{Guid.NewGuid():N}";
        var connectionString = new NpgsqlConnectionStringBuilder(PostgresTestDatabase.AdminConnectionString) { Database = missing }.ConnectionString;

        var failure = await Assert.ThrowsAsync<SchemaMigrationException>(
            () => _migrator.MigrateAsync(StorageProvider.Postgres, connectionString, CancellationToken.None));

        Assert.Contains($"'{missing}'", failure.Message);
        Assert.Contains("does not exist", failure.Message);
        Assert.Equal(0, await DatabaseQueries.CountAsync(
            StorageProvider.Postgres,
            PostgresTestDatabase.AdminConnectionString,
            "SELECT COUNT(*) FROM pg_database WHERE datname = @name",
            ("name", missing)));
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigrateAsync_PostgresLockHeldByAnotherSession_WaitsForItsRelease()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var other = new NpgsqlConnection(database.ConnectionString);
        await other.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({PostgresMigrationTarget.LockKey})", other))
            await take.ExecuteNonQueryAsync();

        var migration = _migrator.MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);
        await Eventually.TrueAsync(
            async () => await DatabaseQueries.CountAsync(
                StorageProvider.Postgres,
                database.ConnectionString,
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == 1,
            TimeSpan.FromSeconds(10),
            "the migrator should queue on the advisory lock the other session holds");
        Assert.False(migration.IsCompleted);
        Assert.Equal(0, await DatabaseQueries.CountAsync(
            StorageProvider.Postgres, database.ConnectionString, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'schema_versions'"));

        await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({PostgresMigrationTarget.LockKey})", other))
            await release.ExecuteNonQueryAsync();

        Assert.Equal(AllScripts, await migration.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static async Task<IReadOnlyList<string>> JournalAsync(StorageProvider provider, string connectionString) =>
        await DatabaseQueries.RowsAsync(
            provider, connectionString, $"SELECT scriptname FROM {SchemaMigrator.JournalTable} ORDER BY scriptname");
}

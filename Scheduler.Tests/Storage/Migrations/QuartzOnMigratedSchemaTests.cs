using System.Collections.Concurrent;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using BatchScheduler.Tests.Infrastructure;
using Quartz;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Storage.Migrations;

/// <summary>
/// Quartz.NET 4.7.3 with its default <c>SchemaProvisioning.Validate</c> must accept the schema our scripts
/// create, store jobs and triggers in it, and fire them; and the scripts must create what Quartz itself would.
/// </summary>
public sealed class QuartzOnMigratedSchemaTests(ITestOutputHelper output)
{
    private readonly AnyStoreMigrator _migrator = new(new TestOutputLogger<SchemaMigrator>(output));

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task Scheduler_OnMigratedSqlite_ValidatesStoresAndFires()
    {
        using var database = new SqliteTestDatabase();
        await _migrator.MigrateAsync(StorageProvider.Sqlite, database.ConnectionString, CancellationToken.None);

        await AssertSchedulerWorksAsync(StorageProvider.Sqlite, database.ConnectionString);
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task Scheduler_OnMigratedPostgres_ValidatesClustersStoresAndFires()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await _migrator.MigrateAsync(StorageProvider.Postgres, database.ConnectionString, CancellationToken.None);

        await AssertSchedulerWorksAsync(StorageProvider.Postgres, database.ConnectionString);
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task Scheduler_OnUnmigratedSqlite_RefusesToStart()
    {
        // The control for the tests above: validation is really on, so their passing means something.
        using var database = new SqliteTestDatabase();
        Directory.CreateDirectory(database.DirectoryPath);

        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var factory = QuartzTestScheduler.Build(StorageProvider.Sqlite, database.ConnectionString, provision: false);
            var scheduler = await factory.GetScheduler();
            await scheduler.Start();
        });

        output.WriteLine(failure.ToString());
        Assert.Contains("QRTZ_", failure.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MigratedQuartzSchema_Sqlite_IsWhatQuartzProvisionsItself()
    {
        using var migrated = new SqliteTestDatabase();
        using var provisioned = new SqliteTestDatabase();
        Directory.CreateDirectory(provisioned.DirectoryPath);
        await _migrator.MigrateAsync(StorageProvider.Sqlite, migrated.ConnectionString, CancellationToken.None);
        await ProvisionWithQuartzAsync(StorageProvider.Sqlite, provisioned.ConnectionString);

        await AssertSameSchemaAsync(StorageProvider.Sqlite, SqliteSchemaQueries, migrated.ConnectionString, provisioned.ConnectionString);
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task MigratedQuartzSchema_Postgres_IsWhatQuartzProvisionsItself_WithV007V008V010AndV017Applied()
    {
        await using var migrated = await PostgresTestDatabase.CreateAsync();
        await using var provisioned = await PostgresTestDatabase.CreateAsync();
        await _migrator.MigrateAsync(StorageProvider.Postgres, migrated.ConnectionString, CancellationToken.None);
        await ProvisionWithQuartzAsync(StorageProvider.Postgres, provisioned.ConnectionString);
        // V007 (no trigger-table foreign keys, a partial calendar index), V008 (no job or group
        // index of triggers), V010 (a partial index of recovery triggers) and V017 (triggers by group in due
        // order, for the set-based rounds' claim by data type) are the deliberate
        // differences, and they apply as well to a schema Quartz created, whatever it named its keys.
        await using (var connection = new Npgsql.NpgsqlConnection(provisioned.ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var name in new[] { "V007__quartz_trigger_write_costs.sql", "V008__quartz_lookup_indexes.sql", "V010__quartz_recovery_trigger_index.sql", "V017__quartz_trigger_group_due_index.sql" })
            {
                await using var apply = new Npgsql.NpgsqlCommand(MigrationScripts.For(StorageProvider.Postgres).Single(s => s.Name == name).Contents, connection);
                await apply.ExecuteNonQueryAsync();
            }
        }

        await AssertSameSchemaAsync(StorageProvider.Postgres, PostgresSchemaQueries, migrated.ConnectionString, provisioned.ConnectionString);
    }

    private static readonly string[] SqliteSchemaQueries =
    [
        """
        SELECT upper(m.name), p.cid, upper(p.name), upper(p.type), p."notnull", p.dflt_value, p.pk
        FROM sqlite_master m, pragma_table_info(m.name) p
        WHERE m.type = 'table' AND m.name LIKE 'QRTZ%' ORDER BY 1, 2
        """,
        """
        SELECT upper(m.name), upper(il.name), il."unique", il.origin, il.partial, x.seqno, upper(x.name), x."desc", x.coll, x.key
        FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_xinfo(il.name) x
        WHERE m.type = 'table' AND m.name LIKE 'QRTZ%' ORDER BY 1, 2, 6
        """,
        """
        SELECT upper(m.name), f.id, f.seq, upper(f."table"), upper(f."from"), upper(f."to"), f.on_update, f.on_delete
        FROM sqlite_master m, pragma_foreign_key_list(m.name) f
        WHERE m.type = 'table' AND m.name LIKE 'QRTZ%' ORDER BY 1, 2, 3
        """,
        "SELECT upper(name), upper(tbl_name), sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'QRTZ%' ORDER BY 1",
    ];

    private static readonly string[] PostgresSchemaQueries =
    [
        """
        SELECT table_name, ordinal_position, column_name, data_type, character_maximum_length, numeric_precision,
               is_nullable, column_default
        FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name LIKE 'qrtz\_%' ORDER BY 1, 2
        """,
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'qrtz\\_%' ORDER BY 1, 2",
        """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = current_schema() AND c.conrelid::regclass::text LIKE 'qrtz\_%' ORDER BY 1, 2
        """,
    ];

    private async Task AssertSchedulerWorksAsync(StorageProvider provider, string connectionString)
    {
        var runId = Guid.NewGuid().ToString("N");
        await using var factory = QuartzTestScheduler.Build(provider, connectionString, provision: false);
        var scheduler = await factory.GetScheduler();
        await scheduler.Start();
        try
        {
            var job = JobBuilder.Create<RecordingJob>()
                .WithIdentity("migrated-schema", "tests")
                .UsingJobData(RecordingJob.RunIdKey, runId)
                .StoreDurably()
                .Build();
            var later = TriggerBuilder.Create()
                .WithIdentity("later", "tests")
                .ForJob(job)
                .StartAt(TimeProvider.System.GetUtcNow().AddHours(1))
                .Build();
            var now = TriggerBuilder.Create().WithIdentity("now", "tests").ForJob(job).StartNow().Build();

            await scheduler.ScheduleJob(job, later);
            await scheduler.ScheduleJob(now);

            var schedulerName = scheduler.SchedulerName;
            Assert.Equal(1, await DatabaseQueries.CountAsync(
                provider, connectionString,
                "SELECT COUNT(*) FROM QRTZ_JOB_DETAILS WHERE SCHED_NAME = @s AND JOB_NAME = 'migrated-schema' AND JOB_GROUP = 'tests'",
                ("s", schedulerName)));
            Assert.Equal(1, await DatabaseQueries.CountAsync(
                provider, connectionString,
                "SELECT COUNT(*) FROM QRTZ_TRIGGERS t JOIN QRTZ_SIMPLE_TRIGGERS s ON s.SCHED_NAME = t.SCHED_NAME AND s.TRIGGER_NAME = t.TRIGGER_NAME AND s.TRIGGER_GROUP = t.TRIGGER_GROUP WHERE t.SCHED_NAME = @s AND t.TRIGGER_NAME = 'later'",
                ("s", schedulerName)));
            Assert.NotNull(await scheduler.GetTrigger(new TriggerKey("later", "tests")));

            await Eventually.TrueAsync(
                () => Task.FromResult(RecordingJob.Runs.ContainsKey(runId)),
                TimeSpan.FromSeconds(30),
                "the trigger due now should fire the job through the migrated schema");

            if (provider == StorageProvider.Postgres)
            {
                Assert.Equal(1, await DatabaseQueries.CountAsync(
                    provider, connectionString,
                    "SELECT COUNT(*) FROM QRTZ_SCHEDULER_STATE WHERE SCHED_NAME = @s AND INSTANCE_NAME = @i",
                    ("s", schedulerName), ("i", scheduler.SchedulerInstanceId)));
            }
        }
        finally
        {
            await scheduler.Shutdown(waitForJobsToComplete: true);
        }
    }

    private static async Task ProvisionWithQuartzAsync(StorageProvider provider, string connectionString)
    {
        await using var factory = QuartzTestScheduler.Build(provider, connectionString, provision: true);
        var scheduler = await factory.GetScheduler();
        await scheduler.Start();
        await scheduler.Shutdown(waitForJobsToComplete: true);
    }

    private async Task AssertSameSchemaAsync(
        StorageProvider provider, IEnumerable<string> queries, string migrated, string provisioned)
    {
        foreach (var query in queries)
        {
            var ours = await DatabaseQueries.RowsAsync(provider, migrated, query);
            var quartz = await DatabaseQueries.RowsAsync(provider, provisioned, query);
            output.WriteLine($"{query}\n  -> {ours.Count} rows ours, {quartz.Count} rows Quartz's");
            Assert.NotEmpty(quartz);
            Assert.Equal(quartz, ours);
        }
    }

    /// <summary>Records that it ran, under the run id in its job data.</summary>
    public sealed class RecordingJob : IJob
    {
        public const string RunIdKey = "runId";

        public static readonly ConcurrentDictionary<string, int> Runs = new();

        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        {
            Runs.AddOrUpdate(context.MergedJobDataMap.GetString(RunIdKey)!, 1, (_, n) => n + 1);
            return ValueTask.CompletedTask;
        }
    }
}

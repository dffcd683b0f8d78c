using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// After a large registration the node refreshes PostgreSQL's planner statistics itself rather than
/// waiting up to a minute for autovacuum, which left Quartz's per-firing statements planned for the
/// tables as they were before.
/// </summary>
public sealed class PostgresStatisticsTests
{
    private const string DataType = "stats";

    private static Dictionary<string, string?> Settings => new()
    {
        ["Cluster:Role"] = "api",
        [$"DataTypes:{DataType}:Executor"] = "noop",
    };

    [Fact]
    public async Task LargeRegistration_AnalyzesTheTablesItWrote()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings);
        var catalog = api.App.Services.GetRequiredService<DataTypeCatalog>();
        Assert.True(catalog.TryGet(DataType, out var dataType));
        var service = api.App.Services.GetRequiredService<WorkItemService>();

        // A small registration moves no plans and is not worth an analyze.
        await service.RegisterAsync(dataType, Items("small", 100), CancellationToken.None);
        var statistics = api.App.Services.GetRequiredService<PostgresStatistics>();
        Assert.Equal(0, statistics.Runs);

        await service.RegisterAsync(dataType, Items("large", PostgresStatistics.MinimumRows), CancellationToken.None);
        await Eventually.TrueAsync(async () => await AnalyzedAsync(database.ConnectionString),
            TimeSpan.FromSeconds(30), "work_items, qrtz_triggers and qrtz_simple_triggers analyzed after the large registration");

        // The statistics now count what was registered, so the planner sees the table as it is.
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var tuples = new NpgsqlCommand("SELECT reltuples::bigint FROM pg_class WHERE oid = 'qrtz_triggers'::regclass", connection);
        Assert.Equal(100L + PostgresStatistics.MinimumRows, (long)(await tuples.ExecuteScalarAsync())!);

        // At the node's own statistics target (a small sample), not the server's default of 100: 1,100
        // distinct entity ids get a histogram of at most target + 1 bounds (101 at the default).
        await using var bounds = new NpgsqlCommand(
            "SELECT cardinality(histogram_bounds::text::text[]) FROM pg_stats WHERE tablename = 'work_items' AND attname = 'entity_id'", connection);
        var histogram = (int)(await bounds.ExecuteScalarAsync())!;
        Assert.InRange(histogram, 2, PostgresStatistics.StatisticsTarget + 1);
    }

    /// <summary>
    /// Schema V007 dropped the foreign key from triggers to jobs, which told the planner that each trigger
    /// joins exactly one job, and autovacuum never analyzes a table of a few rows: unanalyzed, the jobs
    /// table made the planner take the join to return almost nothing, and plan Quartz's acquisition
    /// query (the first due trigger, with its job) as a read and sort of every due trigger: 266 ms
    /// over 200,000 due triggers as a generic plan, 0.4 ms reading the first in index order once the
    /// jobs table was analyzed. The node analyzes it once it has stored its jobs.
    /// </summary>
    [Fact]
    public async Task NodeStart_AnalyzesQuartzsJobsTable()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings);

        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT (SELECT reltuples::bigint FROM pg_class WHERE oid = 'qrtz_job_details'::regclass), (SELECT count(*) FROM qrtz_job_details)", connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.True(reader.GetInt64(1) > 0, "the node stored no job");
        Assert.Equal(reader.GetInt64(1), reader.GetInt64(0)); // -1: never analyzed
    }

    private static List<WorkItemRegistration> Items(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => new WorkItemRegistration($"{prefix}-{i}", null, null)).ToList();

    private static async Task<bool> AnalyzedAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*) FROM pg_stat_user_tables
            WHERE relname IN ('work_items', 'qrtz_triggers', 'qrtz_simple_triggers') AND last_analyze IS NOT NULL
            """, connection);
        return (long)(await command.ExecuteScalarAsync())! == 3;
    }
}

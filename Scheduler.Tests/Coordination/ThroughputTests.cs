using System.Diagnostics;
using System.Net.Http.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Npgsql;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// 1,000 items registered and every one completed, on a real database. Also reports (not asserts)
/// registration and execution rates and, on PostgreSQL, statements and commits per execution.
/// </summary>
public abstract class ThroughputTests(StorageProvider provider, ITestOutputHelper output)
{
    private const int Items = 1000;
    private const string DataType = "bulk-noop";

    private static Dictionary<string, string?> Settings(string role) => new()
    {
        ["Cluster:Role"] = role,
        ["Cluster:MaxConcurrency"] = "16",
        [$"DataTypes:{DataType}:Executor"] = "noop",
    };

    [Fact]
    public async Task Register1000Items_ThenRun_AllCompleteExactlyOnce()
    {
        await using var store = await TestStore.CreateAsync(provider);
        var body = new
        {
            dataType = DataType,
            items = Enumerable.Range(0, Items).Select(i => new { entityId = $"e-{i:0000}", payload = new { i } }).ToList(),
        };

        // Registration on an API-only node: nothing executes, so registration is measured alone.
        double registerSeconds;
        await using (var api = await TestNode.StartAsync(provider, store.ConnectionString, Settings("api")))
        {
            var clock = Stopwatch.StartNew();
            using var response = await api.Http.PostAsJsonAsync("/api/work-items", body);
            response.EnsureSuccessStatusCode();
            registerSeconds = clock.Elapsed.TotalSeconds;
            var page = await api.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.NeverRun, null, 1, 1), CancellationToken.None);
            Assert.Equal(Items, page.Total);
        }
        var before = await DatabaseCountersAsync(store);

        double wallSeconds;
        TimeSpan executionSpan;
        await using (var worker = await TestNode.StartAsync(provider, store.ConnectionString, Settings("worker")))
        {
            var clock = Stopwatch.StartNew();
            await Eventually.TrueAsync(async () =>
            {
                var done = await worker.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, 1), CancellationToken.None);
                return done.Total == Items;
            }, TimeSpan.FromMinutes(3), $"all {Items} items should complete");
            wallSeconds = clock.Elapsed.TotalSeconds;

            var all = await worker.Store.ListAsync(new WorkItemQuery(DataType, null, null, 1, Items), CancellationToken.None);
            Assert.All(all.Items, i =>
            {
                Assert.Equal(WorkItemStates.Completed, i.State);
                Assert.Equal(1, i.Attempt);
                Assert.True(i.UpdatesEnd >= i.UpdatesStart);
            });
            executionSpan = all.Items.Max(i => i.UpdatesEnd!.Value) - all.Items.Min(i => i.UpdatesStart!.Value);
        }
        var after = await DatabaseCountersAsync(store);

        output.WriteLine($"{provider}: registered {Items} items in {registerSeconds:0.000} s = {Items / registerSeconds:0} items/s (one bulk POST)");
        output.WriteLine($"{provider}: executed {Items} no-op items: first start to last end {executionSpan.TotalSeconds:0.000} s = {Items / executionSpan.TotalSeconds:0} executions/s; wall time incl. node start {wallSeconds:0.00} s");
        if (before is { } b && after is { } a)
        {
            output.WriteLine($"{provider}: per execution {(a.Statements - b.Statements) / (double)Items:0.0} statements, {(a.Commits - b.Commits) / (double)Items:0.00} commits " +
                             "(worker node start-up and shutdown included)");
        }
    }

    /// <summary>
    /// Statements (pg_stat_statements) and commits (pg_stat_database) so far, read once every
    /// backend of the database has exited and flushed its counters. Null on SQLite, or when
    /// pg_stat_statements is not loaded.
    /// </summary>
    private async Task<(long Statements, long Commits)?> DatabaseCountersAsync(TestStore store)
    {
        if (store.Provider != StorageProvider.Postgres)
            return null;
        NpgsqlConnection.ClearAllPools();
        var builder = new NpgsqlConnectionStringBuilder(store.ConnectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await Eventually.TrueAsync(async () =>
        {
            await using var others = new NpgsqlCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", connection);
            return (long)(await others.ExecuteScalarAsync())! == 0;
        }, TimeSpan.FromSeconds(30), "the nodes' connections should close so their statistics are flushed");
        try
        {
            await using var command = new NpgsqlCommand(
                """
                CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
                SELECT pg_stat_clear_snapshot();
                SELECT (SELECT COALESCE(SUM(s.calls), 0)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()),
                       (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database());
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.NextResultAsync();
            await reader.ReadAsync();
            return (reader.GetInt64(0), reader.GetInt64(1));
        }
        catch (PostgresException ex) when (ex.SqlState is "42P01" or "55000")
        {
            output.WriteLine($"pg_stat_statements is not available ({ex.MessageText}); statement counts skipped.");
            return null;
        }
    }
}

[Trait("Provider", "Sqlite")]
[Collection(MeasurementCollection.Name)]
public sealed class SqliteThroughputTests(ITestOutputHelper output) : ThroughputTests(StorageProvider.Sqlite, output);

[Trait("Provider", "Postgres")]
[Collection(MeasurementCollection.Name)]
public sealed class PostgresThroughputTests(ITestOutputHelper output) : ThroughputTests(StorageProvider.Postgres, output);

/// <summary>Measurements run alone: on 2 cores, parallel tests would be measured instead.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasurementCollection
{
    public const string Name = "Measurements";
}

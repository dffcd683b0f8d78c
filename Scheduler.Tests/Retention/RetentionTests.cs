using System.Data.Common;
using System.Globalization;
using System.Net;
using BatchScheduler.Retention;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Observability;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BatchScheduler.Tests.Retention;

/// <summary>
/// Retention (issue 24, bounded tables): old rows of failures, the per-minute aggregate and the audit trail go and young
/// ones stay; a data type's aged-out completed one-shot items go through the lifecycle, never one that is due again or
/// was re-registered since; each table is deleted a chunk at a time. The pass runs on a fake clock; rows are aged by
/// writing their times.
/// </summary>
public sealed class RetentionTests
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    /// <summary>A node whose own retention service waits a day for its first pass: the test's passes are the only ones.</summary>
    private static Dictionary<string, string?> Settings(string role, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Role"] = role,
            ["Cluster:CheckinInterval"] = "00:00:01",
            ["Retention:Interval"] = "1.00:00:00",
            ["DataTypes:t:Executor"] = "noop",
            ["DataTypes:t:Cadence:once"] = "",
            ["DataTypes:t:Cadence:hourly"] = "01:00:00",
            ["DataTypes:t:Retention:Completed"] = "7.00:00:00",
            ["DataTypes:k:Executor"] = "noop",
            ["DataTypes:k:Cadence:once"] = "",
        };
        foreach (var (key, value) in extra)
            settings[key] = value;
        return settings;
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Pass_DeletesRowsPastTheirTablesRetention_KeepsYoungerOnes(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString, Settings("api"));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var now = clock.GetUtcNow();
        // Done rows age from when they were marked done (7 days), open ones from when they failed (30 days).
        await AddFailureAsync(node, "done-old", failedAt: now - 20 * Day, doneAt: now - 8 * Day);
        await AddFailureAsync(node, "done-young", failedAt: now - 40 * Day, doneAt: now - 6 * Day);
        await AddFailureAsync(node, "open-old", failedAt: now - 31 * Day, doneAt: null);
        await AddFailureAsync(node, "open-young", failedAt: now - 29 * Day, doneAt: null);
        await AddMinuteAsync(node, "old", now - 8 * Day);
        await AddMinuteAsync(node, "young", now - 6 * Day);
        await AddAuditAsync(node, "old", now - 91 * Day);
        await AddAuditAsync(node, "young", now - 89 * Day);

        var deleted = await PassOn(node, clock).RunAsync(CancellationToken.None);

        Assert.Equal(["done-young", "open-young"], await StringsAsync(node, "SELECT entity_id FROM failures ORDER BY entity_id"));
        Assert.Equal(["young"], await StringsAsync(node, "SELECT data_type FROM stats_minutely WHERE node_id = 'n' ORDER BY data_type"));
        Assert.Equal(["young"], await StringsAsync(node, "SELECT target FROM audit_log WHERE who = 'retention-test' ORDER BY target"));
        Assert.Equal((2, 1, 1, 0), (deleted["failures"].Rows, deleted["stats_minutely"].Rows, deleted["audit_log"].Rows, deleted["work_items"].Rows));
        var metrics = await MetricsScrape.GetAsync(node.Http);
        Assert.Equal(2, metrics.Value("batchscheduler_retention_deleted_rows_total{table=\"failures\"}"));
        Assert.Equal(1, metrics.Value("batchscheduler_retention_deleted_rows_total{table=\"audit_log\"}"));
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Service_RunsAPassEveryInterval_OnItsClock(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString, Settings("api"));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await AddAuditAsync(node, "old", clock.GetUtcNow() - 91 * Day);
        var service = ActivatorUtilities.CreateInstance<RetentionService>(node.App.Services, PassOn(node, clock), (TimeProvider)clock);

        await service.StartAsync(CancellationToken.None);
        try
        {
            Assert.Equal(["old"], await StringsAsync(node, "SELECT target FROM audit_log WHERE who = 'retention-test'"));
            // The service's timer starts with its loop: the clock moves a Retention:Interval at a time until a pass has run.
            await Eventually.TrueAsync(async () =>
            {
                clock.Advance(Day);
                return (await StringsAsync(node, "SELECT target FROM audit_log WHERE who = 'retention-test'")).Count == 0;
            }, TimeSpan.FromSeconds(20), "a pass due after an interval should delete the old audit row");
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Items of data type t completed (in tier once, runs once) and aged past t's Retention:Completed (7 days). Only the
    /// one nothing happened to since goes: one re-registered since, one run now (due again), one paused, one a batch's
    /// and one in a recurring tier stay, as does an item of k, which sets no retention.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Pass_DeletesAgedOutCompletedOneShots_NotOnesDueAgainOrReRegisteredOrRecurring(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
        string[] once = ["old", "rereg", "runnow", "paused", "batch"];
        await CompleteAsync(provider, connectionString, [.. once.Select(e => ("t", e, "once")), ("t", "recurring", "hourly"), ("k", "old", "once")]);
        // An api node from here on: nothing fires the run-now below, so the item stays due again.
        await using var node = await TestNode.StartAsync(provider, connectionString, Settings("api"));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await ExecAsync(node, "UPDATE work_items SET updated_at = @at", ("@at", clock.GetUtcNow() - 8 * Day));
        await ExecAsync(node, "UPDATE work_items SET batch_id = 'b1' WHERE entity_id = 'batch'");
        await node.PutAsync("t", "rereg", new { tier = "once" });
        await PostAsync(node, "/api/work-items/t/runnow/run");
        await PostAsync(node, "/api/work-items/t/paused/pause");
        await ExecAsync(node, "UPDATE work_items SET updated_at = @at WHERE entity_id <> 'rereg'", ("@at", clock.GetUtcNow() - 8 * Day));

        var deleted = await PassOn(node, clock).RunAsync(CancellationToken.None);

        Assert.Equal(["k/old", "t/batch", "t/paused", "t/recurring", "t/rereg", "t/runnow"],
            await StringsAsync(node, "SELECT data_type || '/' || entity_id FROM work_items ORDER BY data_type, entity_id"));
        Assert.Equal(1, deleted["work_items"].Rows);
        Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync("/api/work-items/t/old")).StatusCode);
    }

    /// <summary>With Retention:ChunkSize 10, 25 aged-out rows of a table take three statements (10, 10, 5), and all go.</summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Pass_MoreRowsThanAChunk_DeletesThemAllAChunkAtATime(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
        var ids = Enumerable.Range(0, 25).Select(i => $"e{i:00}").ToList();
        await CompleteAsync(provider, connectionString, ids.Select(e => ("t", e, "once")).ToList());
        await using var node = await TestNode.StartAsync(provider, connectionString, Settings("api", ("Retention:ChunkSize", "10")));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var now = clock.GetUtcNow();
        await ExecAsync(node, "UPDATE work_items SET updated_at = @at", ("@at", now - 8 * Day));
        foreach (var id in ids)
        {
            await AddFailureAsync(node, id, failedAt: now - 9 * Day, doneAt: now - 8 * Day);
            await AddAuditAsync(node, id, now - 91 * Day);
        }

        var deleted = await PassOn(node, clock).RunAsync(CancellationToken.None);

        Assert.Equal(new Deleted(25, 3), deleted["audit_log"]);
        Assert.Equal(new Deleted(25, 3 + 1), deleted["failures"]); // and one statement finding no open failure
        Assert.Equal(new Deleted(25, 3), deleted["work_items"]);
        Assert.Empty(await StringsAsync(node, "SELECT entity_id FROM work_items"));
        Assert.Empty(await StringsAsync(node, "SELECT entity_id FROM failures"));
        Assert.Empty(await StringsAsync(node, "SELECT target FROM audit_log WHERE who = 'retention-test'"));
    }

    /// <summary>
    /// The race with the lifecycle's other movers: while a pass deletes 120 aged-out items ten at a time, half of them are
    /// run now and half re-registered. A run-now that was accepted leaves its item stored with its trigger (never a trigger
    /// without its item, nor an accepted run lost); one refused with 404 came after its item was deleted; every
    /// re-registered item is stored afterwards, kept or registered anew.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Pass_RacingRunNowAndReRegistration_NeverLosesAnAcceptedRequest(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var connectionString = postgres?.ConnectionString ?? sqlite.ConnectionString;
        var ids = Enumerable.Range(0, 120).Select(i => $"e{i:000}").ToList();
        await CompleteAsync(provider, connectionString, ids.Select(e => ("t", e, "once")).ToList());
        await using var node = await TestNode.StartAsync(provider, connectionString, Settings("api", ("Retention:ChunkSize", "10")));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await ExecAsync(node, "UPDATE work_items SET updated_at = @at", ("@at", clock.GetUtcNow() - 8 * Day));
        var runNow = ids.Where((_, i) => i % 2 == 0).ToList();
        var reRegister = ids.Where((_, i) => i % 2 == 1).ToList();

        var pass = PassOn(node, clock).RunAsync(CancellationToken.None);
        var runs = Task.WhenAll(runNow.Select(async id =>
        {
            using var response = await node.Http.PostAsync($"/api/work-items/t/{id}/run", null);
            Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound, $"run-now of {id}: {response.StatusCode}");
            return (Id: id, Accepted: response.IsSuccessStatusCode);
        }));
        var registrations = Task.WhenAll(reRegister.Select(id => node.PutAsync("t", id, new { tier = "once" })));
        await Task.WhenAll(pass, runs, registrations);

        var stored = (await StringsAsync(node, "SELECT entity_id FROM work_items")).ToHashSet();
        var triggers = (await StringsAsync(node, "SELECT trigger_name FROM qrtz_triggers WHERE trigger_group = 't'")).ToHashSet();
        foreach (var (id, accepted) in await runs)
        {
            Assert.True(accepted == stored.Contains(id), $"{id}: run-now {(accepted ? "accepted" : "refused")}, but the item is {(stored.Contains(id) ? "" : "not ")}stored");
            Assert.True(accepted == triggers.Contains(id), $"{id}: run-now {(accepted ? "accepted" : "refused")}, but the item has {(triggers.Contains(id) ? "a" : "no")} trigger");
        }
        Assert.All(reRegister, id => Assert.Contains(id, stored));
        Assert.Empty(triggers.Except(stored));
    }

    /// <summary>
    /// The race made deterministic on two PostgreSQL nodes: node A's run-now of an aged-out item holds the item's row lock
    /// while Quartz stores its trigger (held there); node B's pass reaches the item and waits for the lock. Once A commits,
    /// B must see the trigger and keep the item: deleting it then would leave an accepted run-now with no item.
    /// </summary>
    [Fact]
    public async Task Pass_WaitingForARunNowOnAnotherNode_KeepsTheItemItMadeDueAgain()
    {
        await using var postgres = await PostgresTestDatabase.CreateAsync();
        await CompleteAsync(StorageProvider.Postgres, postgres.ConnectionString, [("t", "x", "once")]);
        var held = new HeldStoreCall(StoreCall.TriggerStore, new Quartz.TriggerKey("x", "t"));
        await using var a = await TestNode.StartAsync(StorageProvider.Postgres, postgres.ConnectionString, Settings("api"), held.Install);
        await using var b = await TestNode.StartAsync(StorageProvider.Postgres, postgres.ConnectionString, Settings("api"));
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await ExecAsync(b, "UPDATE work_items SET updated_at = @at", ("@at", clock.GetUtcNow() - 8 * Day));

        var run = PostAsync(a, "/api/work-items/t/x/run");
        await held.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var pass = PassOn(b, clock).RunAsync(CancellationToken.None);
        await Eventually.TrueAsync(async () => (await StringsAsync(b,
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))[0] != "0",
            TimeSpan.FromSeconds(30), "node B's pass should wait for the row node A's run-now holds");
        held.Release();
        await run;
        var deleted = await pass;

        Assert.Equal(0, deleted["work_items"].Rows);
        Assert.Equal(["x"], await StringsAsync(b, "SELECT entity_id FROM work_items"));
        Assert.Equal(["x"], await StringsAsync(b, "SELECT trigger_name FROM qrtz_triggers WHERE trigger_group = 't'"));
    }

    [Theory]
    [InlineData("Retention:Failures:Open", "00:00:00")]
    [InlineData("Retention:Failures:Done", "-1.00:00:00")]
    [InlineData("Retention:Audit", "-00:00:01")]
    [InlineData("Retention:MinuteStats", "01:00:00")]
    [InlineData("Retention:ChunkSize", "0")]
    [InlineData("Retention:Interval", "00:00:00")]
    [InlineData("DataTypes:t:Retention:Completed", "00:00:00")]
    [InlineData("DataTypes:t:Retention:Completed", "-7.00:00:00")]
    public async Task InvalidSetting_StopsTheNodeAtStart_NamingTheSetting(string key, string value)
    {
        using var sqlite = new SqliteTestDatabase();

        var exception = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => TestNode.StartAsync(StorageProvider.Sqlite, sqlite.ConnectionString, Settings("api", (key, value))));

        Assert.Contains(exception.Failures, f => f.Contains(key, StringComparison.Ordinal) && f.Contains($"(was {value})", StringComparison.Ordinal));
    }

    /// <summary>Runs a worker node until each item is completed, then stops it.</summary>
    private static async Task CompleteAsync(StorageProvider provider, string connectionString, IReadOnlyList<(string DataType, string EntityId, string Tier)> items)
    {
        await using var worker = await TestNode.StartAsync(provider, connectionString, Settings("worker"));
        foreach (var (dataType, entityId, tier) in items)
            await worker.PutAsync(dataType, entityId, new { tier });
        foreach (var (dataType, entityId, _) in items)
            await worker.WaitForStateAsync(dataType, entityId, WorkItemStates.Completed);
    }

    private static async Task PostAsync(TestNode node, string path)
    {
        using var body = new StringContent("""{"reason":"retention test"}""", System.Text.Encoding.UTF8, "application/json");
        using var response = await node.Http.PostAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static RetentionPass PassOn(TestNode node, TimeProvider clock) =>
        ActivatorUtilities.CreateInstance<RetentionPass>(node.App.Services, clock);

    private static Task AddFailureAsync(TestNode node, string entityId, DateTimeOffset failedAt, DateTimeOffset? doneAt) =>
        ExecAsync(node,
            """
            INSERT INTO failures (data_type, entity_id, attempt, node_id, failed_at, exception_type, message, done, done_at)
            VALUES ('t', @e, 1, 'n', @failedAt, 'System.Exception', 'boom', @done, @doneAt)
            """,
            ("@e", entityId), ("@failedAt", failedAt), ("@done", doneAt is not null), ("@doneAt", doneAt));

    private static Task AddMinuteAsync(TestNode node, string dataType, DateTimeOffset at) =>
        ExecAsync(node, "INSERT INTO stats_minutely (minute_start, data_type, node_id, executions) VALUES (@m, @d, 'n', 1)",
            ("@m", MinuteStats.MinuteOf(at)), ("@d", dataType));

    private static Task AddAuditAsync(TestNode node, string target, DateTimeOffset at) =>
        ExecAsync(node,
            "INSERT INTO audit_log (recorded_at, who, action, target, status, node_id) VALUES (@at, 'retention-test', 'PUT /api/x', @target, 200, 'n')",
            ("@at", at), ("@target", target));

    private static async Task ExecAsync(TestNode node, string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        await using var command = Command(connection, sql, parameters);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> StringsAsync(TestNode node, string sql)
    {
        await using var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        await using var command = Command(connection, sql, []);
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            values.Add(Convert.ToString(reader.GetValue(0), CultureInfo.InvariantCulture)!);
        return values;
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            if (value is null)
                p.DbType = System.Data.DbType.DateTimeOffset;
            command.Parameters.Add(p);
        }
        return command;
    }
}

using System.Data.Common;
using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Hosting;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Data.Sqlite;
using Npgsql;
using Quartz.Extensibility;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// On PostgreSQL and SQLite a registration writes new items' triggers straight into Quartz's tables, in the
/// same transaction as their rows. These tests prove Quartz takes those rows as its own: they are
/// the rows Quartz itself writes, and a cluster fires each exactly once.
/// </summary>
public sealed class BulkTriggerTests
{
    private const string DataType = "bulk";

    /// <summary>The start of <see cref="BulkTriggerRows.InsertNewItemsWithTriggers"/>, a large registration of new items in one statement.</summary>
    private static readonly string AllNewStatement = BulkTriggerRows.InsertNewItemsWithTriggers[..BulkTriggerRows.InsertNewItemsWithTriggers.IndexOf('\n', StringComparison.Ordinal)];

    private static Dictionary<string, string?> Settings(string role, bool setBasedFiring = true) => new()
    {
        ["Cluster:Role"] = role,
        ["Cluster:SetBasedFiring"] = setBasedFiring ? "true" : "false",
        ["Cluster:CheckinInterval"] = "00:00:01",
        [$"DataTypes:{DataType}:Executor"] = "recording",
        [$"DataTypes:{DataType}:Cadence:once"] = "",
        [$"DataTypes:{DataType}:Cadence:hourly"] = "01:00:00",
        [$"DataTypes:{DataType}:DefaultTier"] = "once",
    };

    /// <summary>
    /// Small registrations write items and triggers statement by statement; a large one of new items
    /// (<see cref="PostgresStatistics.MinimumRows"/> or more, here padded with items in tier exclude,
    /// which get no trigger) writes them all in one statement. Both write Quartz's rows.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Postgres, false)]
    [InlineData(StorageProvider.Postgres, true)]
    [InlineData(StorageProvider.Sqlite, false)]
    [InlineData(StorageProvider.Sqlite, true)]
    public async Task BulkWrittenTriggerRows_AreTheRowsQuartzWrites(StorageProvider provider, bool large)
    {
        await using var database = await Db.CreateAsync(provider);
        using var statements = provider == StorageProvider.Postgres ? new PostgresStatements(database.Name) : null;
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);

        // Bulk path: new items registered through the service (one-shot and recurring).
        var padding = large ? PostgresStatistics.MinimumRows - 2 : 0;
        await service.RegisterAsync(dataType,
            [
                new WorkItemRegistration("bulk-once", "once", null), new WorkItemRegistration("bulk-hourly", "hourly", null),
                .. Enumerable.Range(0, padding).Select(i => new WorkItemRegistration($"excluded-{i}", Tiers.Exclude, null)),
            ], CancellationToken.None);
        if (statements is not null)
            Assert.Equal(large ? 1 : 0, statements.Count(AllNewStatement));
        Assert.Equal(2 + padding, (await api.Store.ListAsync(new WorkItemQuery(DataType, null, null, 1, 1), CancellationToken.None)).Total);
        // Quartz's path: the same kinds of trigger scheduled through Quartz itself.
        await api.App.Services.GetRequiredService<WorkItemScheduler>().ArmAsync(dataType,
            [("quartz-once", "once", null, true), ("quartz-hourly", "hourly", null, true)], CancellationToken.None);

        var rows = await TriggerRowsAsync(database);
        Assert.Equal(4, rows.Count);
        foreach (var kind in new[] { "once", "hourly" })
        {
            var bulk = rows[$"bulk-{kind}"];
            var quartz = rows[$"quartz-{kind}"];
            foreach (var (column, value) in quartz)
            {
                if (column is "trigger_name" or "next_fire_time" or "start_time" or "job_data")
                    continue;
                // Same value and, on SQLite, whose columns take any type, the same storage class.
                Assert.True(Equals(value, bulk[column]) && value?.GetType() == bulk[column]?.GetType(),
                    $"{kind}: column {column} is '{bulk[column]}' ({bulk[column]?.GetType().Name}) in the bulk row, '{value}' ({value?.GetType().Name}) in Quartz's");
            }
            // Never run: the first firing is a lead early in due order, and a recurring trigger starts
            // one interval after its due time, so Quartz's next firing is a cadence after it fell due.
            var lead = WorkItemTriggers.NeverRunLead.Ticks + (kind == "hourly" ? TimeSpan.FromHours(1).Ticks : 0);
            Assert.Equal(lead, (long)quartz["start_time"]! - (long)quartz["next_fire_time"]!);
            Assert.Equal(lead, (long)bulk["start_time"]! - (long)bulk["next_fire_time"]!);
        }
        Assert.Equal(-1L, rows["bulk-hourly"]["repeat_count"]);
        Assert.Equal(3_600_000L, rows["bulk-hourly"]["repeat_interval"]);
        Assert.Equal(0L, rows["bulk-once"]["repeat_count"]);
        // Items of one registration are due one tick apart, in request order: at one shared instant
        // PostgreSQL's plan for Quartz's claim UPDATE scans every trigger due at it.
        Assert.Equal((long)rows["bulk-once"]["next_fire_time"]! + 1, (long)rows["bulk-hourly"]["next_fire_time"]!);
    }

    /// <summary>
    /// Under a pause the bulk rows are Quartz's too: PAUSED when the data type's trigger group is paused or
    /// all groups are, and then, as Quartz does, with the group's own paused row written; a resume of the group
    /// treats them as Quartz's own. The bulk item is registered first, so the group's row is the bulk write's.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Postgres, false)]
    [InlineData(StorageProvider.Postgres, true)]
    [InlineData(StorageProvider.Sqlite, false)]
    [InlineData(StorageProvider.Sqlite, true)]
    public async Task BulkWrittenTriggerRows_UnderAPause_AreStoredPausedAsQuartzStoresThem(StorageProvider provider, bool allGroups)
    {
        await using var database = await Db.CreateAsync(provider);
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        var scheduler = await api.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        if (allGroups)
            await scheduler.PauseAll();
        else
            await scheduler.PauseTriggerGroups(Quartz.GroupMatcher<Quartz.TriggerKey>.GroupEquals(DataType));

        await service.RegisterAsync(dataType, [new WorkItemRegistration("bulk-once", "once", null)], CancellationToken.None);
        var groupRows = await CountAsync(database, $"SELECT COUNT(*) FROM qrtz_paused_trigger_grps WHERE trigger_group = '{DataType}'");
        await api.App.Services.GetRequiredService<WorkItemScheduler>().ArmAsync(dataType, [("quartz-once", "once", null, true)], CancellationToken.None);

        var rows = await TriggerRowsAsync(database);
        Assert.Equal(("PAUSED", "PAUSED"), ((string?)rows["bulk-once"]["trigger_state"], (string?)rows["quartz-once"]["trigger_state"]));
        Assert.Equal(1, groupRows);

        await scheduler.ResumeTriggerGroups(Quartz.GroupMatcher<Quartz.TriggerKey>.GroupEquals(DataType));

        rows = await TriggerRowsAsync(database);
        Assert.Equal((string?)rows["quartz-once"]["trigger_state"], (string?)rows["bulk-once"]["trigger_state"]);
        if (!allGroups)
            Assert.Equal("WAITING", (string?)rows["bulk-once"]["trigger_state"]);
    }

    private static async Task<long> CountAsync(Db database, string sql)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Whether Quartz's own rounds fire them or the set-based ones (<see cref="SetFiringRounds"/>),
    /// the rows end the same: each item ran once, a spent trigger is gone with its rows, a recurring
    /// one waits at its next fire time, fired once.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BulkRegisteredItems_FireExactlyOnceAcrossTwoNodes(bool setBasedFiring)
    {
        const int oneShot = 400, recurring = 100;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);

        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"), AddRecorder))
        {
            var items = Enumerable.Range(0, oneShot).Select(i => (object)new { entityId = $"once-{i:000}" })
                .Concat(Enumerable.Range(0, recurring).Select(i => new { entityId = $"hourly-{i:000}", tier = "hourly" }))
                .ToList();
            using var response = await api.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items });
            response.EnsureSuccessStatusCode();
        }
        Assert.Equal(oneShot + recurring, (await TriggerRowsAsync(database.ConnectionString)).Count);
        Assert.Empty(recorder.Calls);

        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker", setBasedFiring), AddRecorder);
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker", setBasedFiring), AddRecorder);
        await Eventually.TrueAsync(async () =>
        {
            var done = await first.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, 1), CancellationToken.None);
            return done.Total == oneShot + recurring;
        }, TimeSpan.FromMinutes(2), "every bulk-registered item should complete");

        Assert.Equal(oneShot + recurring, recorder.Calls.Count);
        Assert.All(recorder.Calls.GroupBy(c => c.EntityId), g => Assert.Single(g));
        Assert.All(recorder.Calls, c => Assert.Equal(1, c.Attempt));
        // One-shot triggers are gone after their run; recurring ones wait for their next hour.
        var left = await TriggerRowsAsync(database.ConnectionString);
        Assert.Equal(recurring, left.Count);
        Assert.All(left.Values, r => Assert.Equal(1L, r["times_triggered"]));
        // Never run, so it fired a lead early; Quartz's next firing is its start, one interval after it fell due.
        Assert.All(left.Values, r => Assert.Equal("WAITING", r["trigger_state"]));
        Assert.All(left.Values, r => Assert.Equal(r["start_time"], r["next_fire_time"]));
        Assert.All(left.Values, r => Assert.Equal((long)r["start_time"]! - WorkItemTriggers.NeverRunLead.Ticks - TimeSpan.FromHours(1).Ticks, r["prev_fire_time"]));
        // Every firing went through the path asked for.
        Assert.Equal(setBasedFiring ? oneShot + recurring : 0, SetFired(first) + SetFired(second));
        // Every completion went through the batched rounds, and left no fired row behind.
        await Eventually.TrueAsync(async () =>
            Completed(first) + Completed(second) == oneShot + recurring && await FiredRowsAsync(database.ConnectionString) == 0,
            TimeSpan.FromSeconds(30), "all 500 completions written in batched rounds, no fired rows left");
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// Quartz reads a time column of 0 or less ticks as no time (<c>StdAdoDelegate.GetDateTimeFromDbValue</c>), and
    /// rows written by other tools, or by an operator moving triggers by hand, carry <c>prev_fire_time = -1</c>:
    /// set-based firing reads them the same way and fires them, rather than failing its round and leaving them to Quartz.
    /// </summary>
    [Fact]
    public async Task TriggerRowsWithoutAPreviousFireTimeWrittenAsMinusOne_AreFiredSetBased()
    {
        const int items = 50;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);
        await RegisterHourlyThenRewriteTriggersAsync(database, AddRecorder, items, "UPDATE qrtz_triggers SET prev_fire_time = -1, end_time = 0");

        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker"), AddRecorder);
        await Eventually.TrueAsync(async () =>
            (await worker.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, 1), CancellationToken.None)).Total == items,
            TimeSpan.FromMinutes(1), "every item should complete");

        Assert.Equal(items, SetFired(worker));
        Assert.All(recorder.Calls.GroupBy(c => c.EntityId), g => Assert.Single(g));
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// A set-based round fires a recurring trigger whose next time has passed too (its nodes were down for a day) once,
    /// and steps it over the times it missed to its first one after now, on its own phase: its start time stays, so no
    /// catch-up move (which re-arms the trigger one cadence from now, from a new start) was needed, and each item ran once.
    /// </summary>
    [Fact]
    public async Task ATriggerFiredPastSeveralMissedTimes_StepsOverThemOnItsPhase_AndItsItemRunsOnce()
    {
        const int items = 40;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);
        await RegisterHourlyThenRewriteTriggersAsync(database, AddRecorder, items,
            $"UPDATE qrtz_triggers SET next_fire_time = next_fire_time - {TimeSpan.FromHours(30).Ticks}, start_time = start_time - {TimeSpan.FromHours(30).Ticks}");
        var starts = (await TriggerRowsAsync(database.ConnectionString)).ToDictionary(r => r.Key, r => (long)r.Value["start_time"]!);

        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker"), AddRecorder);
        await Eventually.TrueAsync(async () =>
            (await worker.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, 1), CancellationToken.None)).Total == items
            && await FiredRowsAsync(database.ConnectionString) == 0,
            TimeSpan.FromMinutes(1), "every item should complete");

        Assert.All(recorder.Calls.GroupBy(c => c.EntityId), g => Assert.Single(g));
        var now = TimeProvider.System.GetUtcNow().UtcTicks;
        foreach (var (name, row) in await TriggerRowsAsync(database.ConnectionString))
        {
            Assert.Equal(starts[name], (long)row["start_time"]!);
            var next = (long)row["next_fire_time"]!;
            Assert.InRange(next, now, now + TimeSpan.FromHours(1).Ticks);
            Assert.Equal(0, (next - starts[name]) % TimeSpan.FromHours(1).Ticks);
            Assert.Equal(1L, row["times_triggered"]);
        }
    }

    /// <summary>
    /// On SQLite (one node, Quartz's own rounds and completions) the bulk-written rows fire as Quartz's own do:
    /// each item ran once, a spent trigger is gone with its rows, a recurring one waits at its next fire time, fired once.
    /// </summary>
    [Fact]
    public async Task BulkRegisteredItems_FireExactlyOnceOnSqlite()
    {
        const int oneShot = 400, recurring = 100;
        await using var database = await Db.CreateAsync(StorageProvider.Sqlite);
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);

        await using (var api = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings("api"), AddRecorder))
        {
            var items = Enumerable.Range(0, oneShot).Select(i => (object)new { entityId = $"once-{i:000}" })
                .Concat(Enumerable.Range(0, recurring).Select(i => new { entityId = $"hourly-{i:000}", tier = "hourly" }))
                .ToList();
            using var response = await api.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items });
            response.EnsureSuccessStatusCode();
        }
        Assert.Equal(oneShot + recurring, (await TriggerRowsAsync(database)).Count);
        Assert.Empty(recorder.Calls);

        await using var worker = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings("worker", setBasedFiring: false), AddRecorder);
        await Eventually.TrueAsync(async () =>
        {
            var done = await worker.Store.ListAsync(new WorkItemQuery(DataType, WorkItemStates.Completed, null, 1, 1), CancellationToken.None);
            return done.Total == oneShot + recurring && await CountAsync(database, "SELECT COUNT(*) FROM qrtz_fired_triggers") == 0;
        }, TimeSpan.FromMinutes(2), "every bulk-registered item should complete, leaving no fired rows");

        Assert.Equal(oneShot + recurring, recorder.Calls.Count);
        Assert.All(recorder.Calls.GroupBy(c => c.EntityId), g => Assert.Single(g));
        Assert.All(recorder.Calls, c => Assert.Equal(1, c.Attempt));
        var left = await TriggerRowsAsync(database);
        Assert.Equal(recurring, left.Count);
        Assert.All(left.Values, r => Assert.Equal(1L, r["times_triggered"]));
        Assert.All(left.Values, r => Assert.Equal("WAITING", r["trigger_state"]));
        Assert.All(left.Values, r => Assert.Equal(r["start_time"], r["next_fire_time"]));
        Assert.All(left.Values, r => Assert.Equal((long)r["start_time"]! - WorkItemTriggers.NeverRunLead.Ticks - TimeSpan.FromHours(1).Ticks, r["prev_fire_time"]));
        await database.AssertConsistentAsync();
    }

    /// <summary>
    /// SQLite's bulk registration writes a runAt as JSON text, not as a parameter: it must be the very text a
    /// <see cref="DateTimeOffset"/> parameter stores, since SQLite compares stored times as text.
    /// </summary>
    [Fact]
    public async Task SqliteBulkRegistration_StoresRunAtAsATimeParameterWould()
    {
        await using var database = await Db.CreateAsync(StorageProvider.Sqlite);
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        var runAt = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)).AddMilliseconds(250);

        await service.RegisterAsync(dataType, [new WorkItemRegistration("at", "once", null, RunAt: runAt)], CancellationToken.None);

        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM work_items WHERE entity_id = 'at' AND run_at = @t";
        command.Parameters.Add(new SqliteParameter("@t", runAt.ToUniversalTime()));
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// SQLite's registration writes items with small payloads as one JSON parameter and items with large ones
    /// as parameters of their own, in runs that keep the request's order: a registration mixing them, new and
    /// again over stored items, stores every payload as sent.
    /// </summary>
    [Fact]
    public async Task SqliteRegistration_MixingSmallAndLargePayloads_StoresEachAsSent()
    {
        await using var database = await Db.CreateAsync(StorageProvider.Sqlite);
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        string? Payload(int i, int round) => (i % 5) switch
        {
            0 => null,
            1 => $"{{\"large\":\"{new string((char)('a' + round), 3_000 + i)}\"}}",
            _ => $"{{\"small\":{i * 10 + round}}}",
        };

        foreach (var round in new[] { 0, 1 })
        {
            var items = Enumerable.Range(0, 40).Select(i => new WorkItemRegistration($"item-{i:D2}", "once", Payload(i, round))).ToList();
            await service.RegisterAsync(dataType, items, CancellationToken.None);

            await using var connection = await database.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT entity_id, payload FROM work_items WHERE data_type = @d ORDER BY entity_id";
            command.Parameters.Add(new SqliteParameter("@d", DataType));
            var stored = new List<(string, string?)>();
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync())
                    stored.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            Assert.Equal(items.Select(i => (i.EntityId, i.Payload)), stored);
        }
    }

    /// <summary>Registers <paramref name="items"/> hourly items through an API node (nothing runs them), then rewrites every trigger row with <paramref name="update"/>.</summary>
    private static async Task RegisterHourlyThenRewriteTriggersAsync(PostgresTestDatabase database, Action<IServiceCollection> services, int items, string update)
    {
        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"), services))
        {
            using var response = await api.Http.PostAsJsonAsync("/api/work-items",
                new { dataType = DataType, items = Enumerable.Range(0, items).Select(i => new { entityId = $"hourly-{i:000}", tier = "hourly" }) });
            response.EnsureSuccessStatusCode();
        }
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var rewrite = new NpgsqlCommand(update, connection);
        Assert.Equal(items, await rewrite.ExecuteNonQueryAsync());
    }

    private static long Completed(TestNode node) => ((BatchedCompletionJobStore)((GatedJobStore)node.App.Services.GetRequiredService<IJobStore>()).Inner).Batched;

    private static long SetFired(TestNode node) =>
        ((BatchedCompletionJobStore)((GatedJobStore)node.App.Services.GetRequiredService<IJobStore>()).Inner).FiringRounds?.Fired ?? 0;

    /// <summary>
    /// A round that finds both plain triggers and one-offs due (which carry job data) fires the
    /// plain ones itself and leaves the one-offs to Quartz's own round in the same acquisition.
    /// </summary>
    [Fact]
    public async Task ARoundWithOneOffsDue_FiresThePlainTriggers_AndQuartzTheOneOffs()
    {
        const int plain = 50, oneOffs = 10;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);
        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"), AddRecorder))
        {
            var items = Enumerable.Range(0, plain + oneOffs).Select(i => new { entityId = $"mixed-{i:000}" }).ToList();
            using var response = await api.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items });
            response.EnsureSuccessStatusCode();
            // Run now: the item's trigger becomes a one-off carrying its firing data.
            for (var i = plain; i < plain + oneOffs; i++)
                (await api.Http.PostAsync($"/api/work-items/{DataType}/mixed-{i:000}/run", null)).EnsureSuccessStatusCode();
        }
        var rows = await TriggerRowsAsync(database.ConnectionString);
        Assert.Equal(oneOffs, rows.Values.Count(r => r["job_data"] is not null));

        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker"), AddRecorder);
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Calls.Count >= plain + oneOffs), TimeSpan.FromMinutes(1),
            "every item should run");

        Assert.All(recorder.Calls.GroupBy(c => c.EntityId), g => Assert.Single(g));
        Assert.Equal(plain + oneOffs, recorder.Calls.Select(c => c.EntityId).Distinct().Count());
        Assert.Equal(plain, SetFired(worker));
        await Eventually.TrueAsync(async () => await FiredRowsAsync(database.ConnectionString) == 0 && (await TriggerRowsAsync(database.ConnectionString)).Count == 0,
            TimeSpan.FromSeconds(30), "every one-shot trigger and fired row gone after the runs");
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// Schema V007 dropped Quartz's foreign keys on PostgreSQL, cascades included: Quartz's own
    /// paths (replacing a trigger with a one-off on run-now and on a tier change, unscheduling it on a
    /// delete, its rounds and completions) and ours still leave every trigger with its rows.
    /// </summary>
    [Fact]
    public async Task QuartzAndBulkPaths_LeaveEveryTriggerWithItsRows_WithoutForeignKeys()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new RecordingExecutor();
        void AddRecorder(IServiceCollection s) => s.AddExecutor("recording", recorder);
        await using (var api = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"), AddRecorder))
        {
            Assert.Empty(await ForeignKeysAsync(database.ConnectionString));
            var items = Enumerable.Range(0, 40).Select(i => new { entityId = $"paths-{i:00}", tier = "hourly" }).ToList();
            using var response = await api.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items });
            response.EnsureSuccessStatusCode();
            for (var i = 0; i < 10; i++)
                (await api.Http.DeleteAsync($"/api/work-items/{DataType}/paths-{i:00}")).EnsureSuccessStatusCode();
            for (var i = 10; i < 20; i++)
                (await api.Http.PostAsync($"/api/work-items/{DataType}/paths-{i:00}/run", null)).EnsureSuccessStatusCode();
            for (var i = 20; i < 30; i++)
                await api.PutAsync(DataType, $"paths-{i:00}", new { tier = "once" });
            await QuartzRows.AssertConsistentAsync(database.ConnectionString);
            Assert.Equal(30, (await TriggerRowsAsync(database.ConnectionString)).Count);
        }

        await using var worker = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("worker"), AddRecorder);
        await Eventually.TrueAsync(async () => recorder.Calls.Count >= 30 && await FiredRowsAsync(database.ConnectionString) == 0
                                               && (await TriggerRowsAsync(database.ConnectionString)).Count == 20,
            TimeSpan.FromMinutes(1), "the 30 items left should run, leaving the 20 hourly triggers (run-now ones re-armed) and no fired rows");
        Assert.Equal(30, recorder.Calls.Select(c => c.EntityId).Distinct().Count());
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// Two registrations of the same new items at once: each inserts them as new, so one of them
    /// meets the other's rows and triggers; it rolls back to its savepoints and writes them with
    /// conflict handling. Both succeed, and each item has one row and one trigger.
    /// </summary>
    [Fact]
    public async Task ConcurrentRegistrationsOfTheSameNewItems_BothSucceed_AndEachItemHasOneTrigger()
    {
        const int count = 3_000;
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"),
            s => s.AddExecutor("recording", new RecordingExecutor()));
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"),
            s => s.AddExecutor("recording", new RecordingExecutor()));
        var body = new { dataType = DataType, items = Enumerable.Range(0, count).Select(i => new { entityId = $"twice-{i:0000}" }).ToList() };

        for (var round = 0; round < 3; round++)
        {
            var responses = await Task.WhenAll(first.Http.PostAsJsonAsync("/api/work-items", body), second.Http.PostAsJsonAsync("/api/work-items", body));
            foreach (var response in responses)
            {
                Assert.True(response.IsSuccessStatusCode, $"round {round}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                response.Dispose();
            }
        }

        Assert.Equal(count, (await TriggerRowsAsync(database.ConnectionString)).Count);
        var stored = await first.Store.ListAsync(new WorkItemQuery(DataType, null, null, 1, 1), CancellationToken.None);
        Assert.Equal(count, stored.Total);
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// Two registrations of the same new items in opposite orders at once. Written in their requests'
    /// orders, each would wait on a row the other inserted first, a deadlock PostgreSQL breaks after a
    /// second by failing one of them; both write in entity-id order, so the later one waits for the
    /// earlier and no statement fails.
    /// </summary>
    [Fact]
    public async Task ConcurrentRegistrationsOfTheSameNewItemsInOppositeOrders_BothSucceedWithoutADeadlock()
    {
        const int count = 3_000;
        await using var database = await PostgresTestDatabase.CreateAsync();
        using var statements = new PostgresStatements(database.Name);
        await using var first = await StartApiAsync(database);
        await using var second = await StartApiAsync(database);

        for (var round = 0; round < 3; round++)
        {
            var ids = Enumerable.Range(0, count).Select(i => $"crossed-{round}-{i:0000}").ToList();
            var responses = await Task.WhenAll(
                first.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items = ids.Select(id => new { entityId = id }) }),
                second.Http.PostAsJsonAsync("/api/work-items", new { dataType = DataType, items = ids.AsEnumerable().Reverse().Select(id => new { entityId = id }) }));
            foreach (var response in responses)
            {
                Assert.True(response.IsSuccessStatusCode, $"round {round}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                response.Dispose();
            }
        }

        Assert.DoesNotContain("40P01", statements.Errors);
        Assert.Equal(3 * count, (await TriggerRowsAsync(database.ConnectionString)).Count);
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// A set-based round deletes a spent one-shot trigger as it fires it, so while that firing runs
    /// the item has no trigger row, only its fired row. Trigger repair and a registration of the same
    /// item must take that for a trigger (re-arming it then would run a one-shot item twice), and
    /// re-arm the item once the fired row is gone without the item having run.
    /// </summary>
    [Fact]
    public async Task AnItemWhoseSpentTriggerIsFiring_IsNotReArmed_UntilItsFiredRowIsGone()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        await api.PutAsync(DataType, "firing", new { });
        // What a set-based round leaves while the firing runs: no trigger, a fired row EXECUTING.
        await ExecuteAsync(database.ConnectionString,
            """
            INSERT INTO qrtz_fired_triggers (sched_name, entry_id, trigger_name, trigger_group, instance_name, fired_time, sched_time,
                                             priority, state, job_name, job_group, is_nonconcurrent, requests_recovery)
            SELECT sched_name, 'elsewhere~set~1', trigger_name, trigger_group, 'elsewhere', next_fire_time, next_fire_time,
                   priority, 'EXECUTING', job_name, job_group, false, true
            FROM qrtz_triggers WHERE trigger_group = 'bulk' AND trigger_name = 'firing';
            DELETE FROM qrtz_simple_triggers WHERE trigger_group = 'bulk' AND trigger_name = 'firing';
            DELETE FROM qrtz_triggers WHERE trigger_group = 'bulk' AND trigger_name = 'firing';
            """);

        Assert.Equal(0, await service.RepairTriggersAsync(dataType, CancellationToken.None));
        await api.PutAsync(DataType, "firing", new { payload = new { again = true } });
        Assert.Empty(await TriggerRowsAsync(database.ConnectionString));

        // The firing ended without the item running (its row is still never_run): it needs its trigger back.
        await ExecuteAsync(database.ConnectionString, "DELETE FROM qrtz_fired_triggers WHERE entry_id = 'elsewhere~set~1'");
        Assert.Equal(1, await service.RepairTriggersAsync(dataType, CancellationToken.None));
        Assert.Single(await TriggerRowsAsync(database.ConnectionString));
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// A large registration takes its items for new when none of a sample of them is stored. When one
    /// outside the sample is, its one-statement insert meets that row, rolls back to its savepoint and
    /// registers the items the general way: the stored item is updated (here re-tiered), the rest are
    /// new, and each item ends with one trigger. A registration of stored items (the sample finds them)
    /// does not try the one-statement insert at all, so it never fails a statement.
    /// </summary>
    [Fact]
    public async Task ALargeRegistrationMeetingAStoredItemTheSampleMissed_RegistersItTheGeneralWay()
    {
        const int count = PostgresStatistics.MinimumRows;
        await using var database = await PostgresTestDatabase.CreateAsync();
        using var statements = new PostgresStatements(database.Name);
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        // Sampled are the ids at k * count / 64: 15, 31, 46 ... 500, 515; 501 is not among them.
        await api.PutAsync(DataType, "mixed-0501", new { tier = "hourly", payload = new { v = 1 } });
        var items = Enumerable.Range(0, count).Select(i => new WorkItemRegistration($"mixed-{i:0000}", "once", $"{{\"v\":{i}}}")).ToList();

        await service.RegisterAsync(dataType, items, CancellationToken.None);

        Assert.Equal(1, statements.Count(AllNewStatement));
        var rows = await TriggerRowsAsync(database.ConnectionString);
        Assert.Equal(count, rows.Count);
        Assert.All(rows.Values, row => Assert.Equal(0L, row["repeat_count"])); // mixed-0501 re-armed on its new tier
        var stored = (await api.ItemAsync(DataType, "mixed-0501"))!;
        Assert.Equal("once", stored.Tier);
        Assert.Equal(501, stored.Payload!.Value.GetProperty("v").GetInt32());
        Assert.Equal(count, (await api.Store.ListAsync(new WorkItemQuery(DataType, null, null, 1, 1), CancellationToken.None)).Total);

        statements.Clear();
        await service.RegisterAsync(dataType, items, CancellationToken.None);
        Assert.Equal(0, statements.Count(AllNewStatement));
        Assert.Equal(count, (await TriggerRowsAsync(database.ConnectionString)).Count);
        await QuartzRows.AssertConsistentAsync(database.ConnectionString);
    }

    /// <summary>
    /// Triggers are written only while the data type's job is stored (the insert locks its row). Should
    /// it be gone (deleted through Quartz's API by hand), a large registration of new items still
    /// stores them, and they are scheduled through Quartz, which stores the job again.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Postgres)]
    [InlineData(StorageProvider.Sqlite)]
    public async Task ALargeRegistrationWhileTheJobIsNotStored_IsScheduledThroughQuartz(StorageProvider provider)
    {
        const int count = PostgresStatistics.MinimumRows;
        await using var database = await Db.CreateAsync(provider);
        using var statements = provider == StorageProvider.Postgres ? new PostgresStatements(database.Name) : null;
        await using var api = await StartApiAsync(database);
        var (dataType, service) = Registration(api);
        await ExecuteAsync(database, "DELETE FROM qrtz_job_details WHERE job_name = 'bulk'");

        await service.RegisterAsync(dataType,
            Enumerable.Range(0, count).Select(i => new WorkItemRegistration($"jobless-{i:0000}", "once", null)).ToList(), CancellationToken.None);

        if (statements is not null)
            Assert.Equal(1, statements.Count(AllNewStatement));
        Assert.Equal(count, (await TriggerRowsAsync(database)).Count);
        Assert.Equal(count, (await api.Store.ListAsync(new WorkItemQuery(DataType, null, null, 1, 1), CancellationToken.None)).Total);
        await database.AssertConsistentAsync();
    }

    private static Task<TestNode> StartApiAsync(PostgresTestDatabase database) =>
        TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings("api"), s => s.AddExecutor("recording", new RecordingExecutor()));

    private static Task<TestNode> StartApiAsync(Db database) =>
        TestNode.StartAsync(database.Provider, database.ConnectionString, Settings("api"), s => s.AddExecutor("recording", new RecordingExecutor()));

    /// <summary>A test database of either provider: PostgreSQL's (<see cref="PostgresTestDatabase"/>) or a SQLite file.</summary>
    private sealed class Db : IAsyncDisposable
    {
        private readonly PostgresTestDatabase? _postgres;
        private readonly SqliteTestDatabase? _sqlite;

        private Db(PostgresTestDatabase? postgres, SqliteTestDatabase? sqlite) => (_postgres, _sqlite) = (postgres, sqlite);

        public static async Task<Db> CreateAsync(StorageProvider provider) =>
            provider == StorageProvider.Postgres ? new Db(await PostgresTestDatabase.CreateAsync(), null) : new Db(null, new SqliteTestDatabase());

        public StorageProvider Provider => _postgres is null ? StorageProvider.Sqlite : StorageProvider.Postgres;

        public string ConnectionString => _postgres?.ConnectionString ?? _sqlite!.ConnectionString;

        /// <summary>PostgreSQL's database name (for <see cref="PostgresStatements"/>).</summary>
        public string Name => _postgres!.Name;

        public async Task<DbConnection> OpenAsync()
        {
            DbConnection connection = _postgres is null ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync();
            return connection;
        }

        public async Task AssertConsistentAsync()
        {
            await using var connection = await OpenAsync();
            await QuartzRows.AssertConsistentAsync(connection);
        }

        public async ValueTask DisposeAsync()
        {
            if (_postgres is not null)
                await _postgres.DisposeAsync();
            _sqlite?.Dispose();
        }
    }

    private static (DataTypeDefinition DataType, WorkItemService Service) Registration(TestNode api)
    {
        Assert.True(api.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(DataType, out var dataType));
        return (dataType, api.App.Services.GetRequiredService<WorkItemService>());
    }

    private static async Task ExecuteAsync(Db database, string sql)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> ForeignKeysAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'qrtz%'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
            keys.Add(reader.GetString(0));
        return keys;
    }

    private static async Task<long> FiredRowsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM qrtz_fired_triggers", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Theory]
    [InlineData(StorageProvider.Postgres)]
    [InlineData(StorageProvider.Sqlite)]
    public async Task ANewItemWhoseTriggerIsLeftOver_IsScheduledThroughQuartzInstead(StorageProvider provider)
    {
        await using var database = await Db.CreateAsync(provider);
        await using var api = await StartApiAsync(database);
        await api.PutAsync(DataType, "left-over", new { tier = "hourly" });
        // The row goes, the trigger stays (as after a half-finished delete by hand).
        await using (var connection = await database.OpenAsync())
        {
            await using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM work_items WHERE entity_id = 'left-over'";
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }

        // Registered again as new and one-shot: the bulk insert skips the existing trigger, and
        // Quartz replaces it, so the item ends with the trigger its new tier asks for.
        await api.PutAsync(DataType, "left-over", new { });
        var rows = await TriggerRowsAsync(database);
        Assert.Equal(0L, Assert.Single(rows).Value["repeat_count"]);
        await database.AssertConsistentAsync();
    }

    private static async Task<Dictionary<string, Dictionary<string, object?>>> TriggerRowsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await TriggerRowsAsync(connection);
    }

    private static async Task<Dictionary<string, Dictionary<string, object?>>> TriggerRowsAsync(Db database)
    {
        await using var connection = await database.OpenAsync();
        return await TriggerRowsAsync(connection);
    }

    /// <summary>The data type's simple triggers, each with its columns by (lower-case) name; job_data's bytes as a hex string.</summary>
    private static async Task<Dictionary<string, Dictionary<string, object?>>> TriggerRowsAsync(DbConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
            await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT t.*, s.repeat_count, s.repeat_interval, s.times_triggered
            FROM qrtz_triggers t JOIN qrtz_simple_triggers s USING (sched_name, trigger_name, trigger_group)
            WHERE t.trigger_group = 'bulk'
            """;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, Dictionary<string, object?>>();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>();
            for (var i = 0; i < reader.FieldCount; i++)
                row[reader.GetName(i).ToLowerInvariant()] = reader.IsDBNull(i) ? null : reader.GetValue(i) is byte[] bytes ? Convert.ToHexString(bytes) : reader.GetValue(i);
            rows[(string)row["trigger_name"]!] = row;
        }
        return rows;
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// Pause and resume of an item and of a data type, on real nodes and stores: nothing starts while paused
/// (a control data type running alongside shows the paused items' due times went by), an attempt
/// running at the pause finishes, and on resume what fell due runs once, stalest first.
/// </summary>
public sealed class PauseTests
{
    private const string Reminders = "reminders";
    private const string Control = "control";

    /// <summary>Records each item's starts (by the wall clock); items named "hold-*" wait for <see cref="Release"/>.</summary>
    private sealed class Recorder : IWorkItemExecutor
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentDictionary<string, int> Starts { get; } = new(StringComparer.Ordinal);

        public ConcurrentQueue<string> Order { get; } = new();

        public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Starts.AddOrUpdate($"{context.DataType}/{context.EntityId}", 1, (_, n) => n + 1);
            Order.Enqueue($"{context.DataType}/{context.EntityId}");
            if (context.EntityId.StartsWith("hold-", StringComparison.Ordinal))
            {
                Held.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }
        }

        public void Release() => _release.TrySetResult();

        public int Of(string dataType, string entityId) => Starts.TryGetValue($"{dataType}/{entityId}", out var n) ? n : 0;
    }

    private static Dictionary<string, string?> Settings(string? maxConcurrency = null) => new()
    {
        ["Cluster:CheckinInterval"] = "00:00:01",
        ["Cluster:MaxConcurrency"] = maxConcurrency ?? "8",
        [$"DataTypes:{Reminders}:Executor"] = "recorder",
        [$"DataTypes:{Reminders}:Cadence:once"] = "",
        [$"DataTypes:{Reminders}:Cadence:often"] = "00:00:01",
        [$"DataTypes:{Reminders}:Cadence:often-hourly"] = "01:00:00",
        [$"DataTypes:{Reminders}:DefaultTier"] = "once",
        [$"DataTypes:{Control}:Executor"] = "recorder",
        [$"DataTypes:{Control}:Cadence:once"] = "",
    };

    private static Task<TestNode> StartNodeAsync(StorageProvider provider, string connectionString, Recorder recorder, string? maxConcurrency = null) =>
        TestNode.StartAsync(provider, connectionString, Settings(maxConcurrency), s => s.AddExecutor("recorder", recorder));

    private static async Task<(TestNode Node, IAsyncDisposable Database, string ConnectionString)> StartAsync(string provider, Recorder recorder, string? maxConcurrency = null)
    {
        if (provider == "Postgres")
        {
            var database = await PostgresTestDatabase.CreateAsync();
            return (await StartNodeAsync(StorageProvider.Postgres, database.ConnectionString, recorder, maxConcurrency), database, database.ConnectionString);
        }
        var file = new SqliteFile(new SqliteTestDatabase());
        return (await StartNodeAsync(StorageProvider.Sqlite, file.Database.ConnectionString, recorder, maxConcurrency), file, file.Database.ConnectionString);
    }

    private sealed record SqliteFile(SqliteTestDatabase Database) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            Database.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static async Task<string?> TriggerStateAsync(ConnectionFactory connections, string dataType, string entityId)
    {
        await using var connection = await connections.OpenAsync(CancellationToken.None);
        await using var command = connection.Command("SELECT trigger_state FROM qrtz_triggers WHERE trigger_group = @g AND trigger_name = @n")
            .With("@g", dataType).With("@n", entityId);
        return (string?)await command.ExecuteScalarAsync();
    }

    /// <summary>The state of the item's trigger when it is a one-off (it carries job data), else null.</summary>
    private static async Task<string?> OneOffStateAsync(ConnectionFactory connections, string dataType, string entityId)
    {
        await using var connection = await connections.OpenAsync(CancellationToken.None);
        await using var command = connection.Command("SELECT trigger_state FROM qrtz_triggers WHERE trigger_group = @g AND trigger_name = @n AND job_data IS NOT NULL")
            .With("@g", dataType).With("@n", entityId);
        return (string?)await command.ExecuteScalarAsync();
    }

    /// <summary>The item's triggers that are not plain PAUSED regular triggers: a firing of a paused item leaves a one-off (job data set).</summary>
    private static async Task<long> NotPausedOrFiredAsync(ConnectionFactory connections, string dataType)
    {
        await using var connection = await connections.OpenAsync(CancellationToken.None);
        await using var command = connection.Command(
                "SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = @g AND (trigger_state <> 'PAUSED' OR job_data IS NOT NULL)")
            .With("@g", dataType);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static DateTimeOffset SecondsAhead(int seconds) => TimeProvider.System.GetUtcNow().AddSeconds(seconds);

    /// <summary>
    /// Moves the item's trigger to <paramref name="due"/> through Quartz, which keeps a paused trigger paused.
    /// Tests register paused items an hour ahead, pause them, then make them due: with a runAt a few seconds
    /// ahead, a busy machine ran the item before the test's pause landed.
    /// </summary>
    private static async Task MakeDueAsync(TestNode node, string dataType, string entityId, DateTimeOffset due)
    {
        var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        var key = BatchScheduler.Scheduling.WorkItemKeys.Trigger(dataType, entityId);
        var trigger = await scheduler.GetTrigger(key);
        Assert.NotNull(trigger);
        await scheduler.RescheduleJob(key, trigger.GetTriggerBuilder().StartAt(due).Build());
    }

    /// <summary>
    /// Moves the PAUSED trigger of an item paused by itself to <paramref name="due"/> in its row: Quartz's
    /// reschedule would resume it (a replacement takes the state its group gives it).
    /// </summary>
    private static async Task MakePausedTriggerDueAsync(ConnectionFactory connections, string dataType, string entityId, DateTimeOffset due)
    {
        await using var connection = await connections.OpenAsync(CancellationToken.None);
        await using var command = connection.Command(
                "UPDATE qrtz_triggers SET next_fire_time = @t, start_time = @t WHERE trigger_group = @g AND trigger_name = @n AND trigger_state = 'PAUSED'")
            .With("@g", dataType).With("@n", entityId).With("@t", due.UtcTicks);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static async Task<JsonElement> PostAsync(TestNode node, string path, object? body = null)
    {
        using var response = body is null ? await node.Http.PostAsync(path, null) : await node.Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Waits until the control items (due at or after the paused items) have all run: the paused items' due times went by on a firing node.</summary>
    private static Task ControlRanAsync(TestNode node, Recorder recorder, IEnumerable<string> ids) =>
        Eventually.TrueAsync(() => Task.FromResult(ids.All(id => recorder.Of(Control, id) == 1)), TimeSpan.FromSeconds(30),
            "the control items should run");

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task PausedItem_DoesNotStartWhenDue_AndRunsOnceOnResume(string provider)
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync(provider, recorder);
        await using var _ = database;
        await using var __ = node;
        await node.PutAsync(Reminders, "patient-1", new { runAt = SecondsAhead(3600).ToString("O") });

        var paused = await PostAsync(node, $"/api/work-items/{Reminders}/patient-1/pause", new { reason = "patient in hospital" });

        Assert.Equal(WorkItemStates.Paused, paused.GetProperty("state").GetString());
        Assert.Equal("patient in hospital", paused.GetProperty("paused").GetProperty("reason").GetString());
        Assert.Equal("loopback", paused.GetProperty("paused").GetProperty("by").GetString());
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        var due = TimeProvider.System.GetUtcNow();
        await MakePausedTriggerDueAsync(connections, Reminders, "patient-1", due);
        await node.PutAsync(Control, "after", new { runAt = due.AddSeconds(1).ToString("O") });
        await ControlRanAsync(node, recorder, ["after"]);
        Assert.Equal(0, recorder.Of(Reminders, "patient-1"));
        // Its due time went by with its trigger paused: not even a refused firing (that leaves a one-off).
        Assert.Equal(0, await NotPausedOrFiredAsync(connections, Reminders));
        Assert.Equal(WorkItemStates.Paused, (await node.ItemAsync(Reminders, "patient-1"))!.State);

        var resumed = await PostAsync(node, $"/api/work-items/{Reminders}/patient-1/resume");

        // Its state back (never run), or already what the firing its resume released made of it: the answer reads the item
        // after the resume, and the due trigger may have fired and even completed in between.
        Assert.Contains(resumed.GetProperty("state").GetString(), new[] { WorkItemStates.NeverRun, WorkItemStates.InFlight, WorkItemStates.Completed });
        Assert.Equal(JsonValueKind.Null, resumed.GetProperty("paused").ValueKind);
        await node.WaitForStateAsync(Reminders, "patient-1", WorkItemStates.Completed);
        Assert.Equal(1, recorder.Of(Reminders, "patient-1"));
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task ItemPausedMidAttempt_AttemptFinishes_OutcomeKeptForResume_RunNowRefused(string provider)
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync(provider, recorder);
        await using var _ = database;
        await using var __ = node;
        await node.PutAsync(Reminders, "hold-1", new { });
        await recorder.Held.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var paused = await PostAsync(node, $"/api/work-items/{Reminders}/hold-1/pause", new { reason = "checking" });
        Assert.Equal(WorkItemStates.InFlight, paused.GetProperty("state").GetString());
        using (var runNow = await node.Http.PostAsync($"/api/work-items/{Reminders}/hold-1/run", null))
            Assert.Equal(HttpStatusCode.Conflict, runNow.StatusCode);
        recorder.Release();

        await node.WaitForStateAsync(Reminders, "hold-1", WorkItemStates.Paused);
        var resumed = await PostAsync(node, $"/api/work-items/{Reminders}/hold-1/resume");
        Assert.Equal(WorkItemStates.Completed, resumed.GetProperty("state").GetString());
        Assert.Equal(1, recorder.Of(Reminders, "hold-1"));
    }

    /// <summary>
    /// A firing handed out just before a pause (here: the row paused behind Quartz's back, its trigger left
    /// waiting and only then made due) is refused by the start statement and comes back paused at its own
    /// due time, then runs on resume.
    /// </summary>
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task FiringOfAPausedItem_IsNotStarted_AndRunsOnResume(string provider)
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync(provider, recorder);
        await using var _ = database;
        await using var __ = node;
        // Not due until the row is paused: with a runAt a few seconds ahead, a busy machine let the item run
        // before the test had paused it.
        await node.PutAsync(Reminders, "raced", new { runAt = SecondsAhead(3600).ToString("O") });
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        await using (var connection = await connections.OpenAsync(CancellationToken.None))
        await using (var pause = connection.Command(
            "UPDATE work_items SET paused_at = updated_at, paused_by = 'test', paused_state = state, state = 'paused' WHERE entity_id = 'raced'"))
        {
            Assert.Equal(1, await pause.ExecuteNonQueryAsync());
        }
        var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        var key = BatchScheduler.Scheduling.WorkItemKeys.Trigger(Reminders, "raced");
        var due = TimeProvider.System.GetUtcNow();
        var waiting = await scheduler.GetTrigger(key);
        await scheduler.RescheduleJob(key, waiting!.GetTriggerBuilder().StartAt(due).Build()); // due now, behind the lifecycle's back

        // Only the refusal pauses this trigger (the test paused the row alone); a start would have ended it.
        await Eventually.TrueAsync(async () => await TriggerStateAsync(connections, Reminders, "raced") == "PAUSED", TimeSpan.FromSeconds(30),
            "the refused firing should come back as a paused trigger");
        Assert.Equal(0, recorder.Of(Reminders, "raced"));
        // At its own place in the due order: a firing of it in between (turned away as busy) would have put it 5 s later.
        Assert.Equal(due, (await node.ItemAsync(Reminders, "raced"))!.NextRunAt);

        await PostAsync(node, $"/api/work-items/{Reminders}/raced/resume");

        await node.WaitForStateAsync(Reminders, "raced", WorkItemStates.Completed);
        Assert.Equal(1, recorder.Of(Reminders, "raced"));
    }

    [Fact]
    public async Task PausedDataType_OneNode_NothingStarts_ResumeRunsStalestFirst()
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync("Sqlite", recorder, maxConcurrency: "1");
        await using var _ = database;
        await using var __ = node;
        var later = SecondsAhead(3600);
        // Registered newest first: due order, not registration order, decides.
        foreach (var i in new[] { 3, 2, 1 })
            await node.PutAsync(Reminders, $"r{i}", new { runAt = later.AddMilliseconds(100 * i).ToString("O") });

        var status = await PostAsync(node, $"/api/data-types/{Reminders}/pause", new { reason = "vendor outage" });
        Assert.True(status.GetProperty("paused").GetBoolean());
        var due = TimeProvider.System.GetUtcNow();
        foreach (var i in new[] { 3, 2, 1 })
            await MakeDueAsync(node, Reminders, $"r{i}", due.AddMilliseconds(100 * i));
        await node.PutAsync(Control, "after", new { runAt = due.AddSeconds(1).ToString("O") });

        await ControlRanAsync(node, recorder, ["after"]);
        Assert.Equal(0, recorder.Starts.Keys.Count(k => k.StartsWith(Reminders, StringComparison.Ordinal)));
        Assert.Equal(0, await NotPausedOrFiredAsync(node.App.Services.GetRequiredService<ConnectionFactory>(), Reminders));
        var types = await node.Http.GetFromJsonAsync<JsonElement>("/api/data-types");
        var reminders = types.EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == Reminders);
        Assert.Equal(("vendor outage", "loopback"), (reminders.GetProperty("pausedReason").GetString(), reminders.GetProperty("pausedBy").GetString()));
        Assert.False(types.EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == Control).GetProperty("paused").GetBoolean());

        await PostAsync(node, $"/api/data-types/{Reminders}/resume");

        await node.WaitForStateAsync(Reminders, "r3", WorkItemStates.Completed);
        Assert.Equal(["reminders/r1", "reminders/r2", "reminders/r3"], recorder.Order.Where(k => k.StartsWith(Reminders, StringComparison.Ordinal)));
    }

    /// <summary>
    /// Two nodes on one PostgreSQL: a data type paused through one is paused on both (Quartz's paused trigger
    /// group), items registered while it is paused (the bulk path writes Quartz's rows itself) do not start
    /// either, an item paused by itself stays paused when the data type resumes, and the rest run once.
    /// </summary>
    [Fact]
    public async Task PausedDataType_TwoNodes_NothingStartsAnywhere_ItemPauseOutlivesTheDataTypes()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new Recorder();
        await using var first = await StartNodeAsync(StorageProvider.Postgres, database.ConnectionString, recorder);
        await using var second = await StartNodeAsync(StorageProvider.Postgres, database.ConnectionString, recorder);
        await first.PutAsync(Reminders, "own-pause", new { });
        await first.WaitForStateAsync(Reminders, "own-pause", WorkItemStates.Completed);
        await PostAsync(first, $"/api/work-items/{Reminders}/own-pause/pause", new { reason = "kept" });
        // Not due for an hour: a trigger of it resumed by mistake would show as WAITING rather than fire (and be paused again).
        await first.PutAsync(Reminders, "own-later", new { runAt = SecondsAhead(3600).ToString("O") });
        await PostAsync(first, $"/api/work-items/{Reminders}/own-later/pause", new { reason = "kept" });

        await PostAsync(first, $"/api/data-types/{Reminders}/pause", new { reason = "vendor outage" });
        var due = SecondsAhead(1);
        var count = PostgresStatistics.MinimumRows;
        using (var response = await second.Http.PostAsJsonAsync("/api/work-items", new
        {
            dataType = Reminders,
            items = Enumerable.Range(0, count).Select(i => new { entityId = $"b{i:0000}", runAt = due.ToString("O") }),
        }))
        {
            response.EnsureSuccessStatusCode();
        }
        await second.PutAsync(Reminders, "own-pause", new { runAt = due.ToString("O") });
        await second.PutAsync(Control, "after-1", new { runAt = due.AddSeconds(1).ToString("O") });
        await first.PutAsync(Control, "after-2", new { runAt = due.AddSeconds(1).ToString("O") });

        await ControlRanAsync(first, recorder, ["after-1", "after-2"]);
        Assert.Equal(1, recorder.Starts.Keys.Count(k => k.StartsWith(Reminders, StringComparison.Ordinal)));
        var types = await second.Http.GetFromJsonAsync<JsonElement>("/api/data-types");
        Assert.True(types.EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == Reminders).GetProperty("paused").GetBoolean());

        await PostAsync(second, $"/api/data-types/{Reminders}/resume");

        await Eventually.TrueAsync(() => Task.FromResult(Enumerable.Range(0, count).All(i => recorder.Of(Reminders, $"b{i:0000}") == 1)),
            TimeSpan.FromSeconds(60), "every item registered while paused should run once after the resume");
        Assert.Equal(1, recorder.Of(Reminders, "own-pause"));
        Assert.Equal(WorkItemStates.Paused, (await first.ItemAsync(Reminders, "own-pause"))!.State);
        // The group's resume (one statement on PostgreSQL) left the trigger of the item paused by itself paused.
        var connections = first.App.Services.GetRequiredService<ConnectionFactory>();
        Assert.Equal("PAUSED", await TriggerStateAsync(connections, Reminders, "own-later"));
        Assert.True(recorder.Starts.Where(s => s.Key.StartsWith(Reminders, StringComparison.Ordinal)).All(s => s.Value == 1));
    }

    /// <summary>
    /// Trigger repair resumes a trigger left PAUSED although neither its item nor its data type is paused (a pause
    /// whose row write failed, an item and its data type resumed at once), and leaves the paused ones alone.
    /// </summary>
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task TriggerRepair_ResumesAStrayPausedTrigger_AndOnlyThat(string provider)
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync(provider, recorder);
        await using var _ = database;
        await using var __ = node;
        var later = SecondsAhead(3600).ToString("O");
        await node.PutAsync(Reminders, "stray", new { runAt = later });
        await node.PutAsync(Reminders, "own", new { runAt = later });
        await node.PutAsync(Control, "grouped", new { runAt = later });
        await PostAsync(node, $"/api/work-items/{Reminders}/own/pause", new { reason = "kept" });
        await PostAsync(node, $"/api/data-types/{Control}/pause", new { reason = "kept" });
        var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
        await scheduler.PauseTrigger(BatchScheduler.Scheduling.WorkItemKeys.Trigger(Reminders, "stray")); // behind the lifecycle's back
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();

        var repaired = await node.App.Services.GetRequiredService<BatchScheduler.QuartzTables.StuckTriggerRepair>().RepairAsync(CancellationToken.None);

        Assert.Equal(1, repaired);
        Assert.Equal(("WAITING", "PAUSED", "PAUSED"), (await TriggerStateAsync(connections, Reminders, "stray"),
            await TriggerStateAsync(connections, Reminders, "own"), await TriggerStateAsync(connections, Control, "grouped")));
    }

    /// <summary>
    /// A pause holds the item's row from the row's write until its trigger is paused and both commit (one item or a
    /// bulk chunk), so another node's resume waits for the whole pause. Meanwhile the row still reads as not paused:
    /// trigger repair must leave a paused trigger whose row another transaction holds alone, not resume it under the pause.
    /// The test makes that moment from outside: the row's pause written and held uncommitted, the trigger paused.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task TriggerRepair_LeavesATriggerWhoseRowAPauseHolds_Alone()
    {
        var recorder = new Recorder();
        var (node, database, connectionString) = await StartAsync("Postgres", recorder);
        await using var _ = database;
        await using var __ = node;
        await node.PutAsync(Reminders, "held", new { runAt = SecondsAhead(3600).ToString("O") });
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        var repair = node.App.Services.GetRequiredService<BatchScheduler.QuartzTables.StuckTriggerRepair>();

        await using (var pauser = new Npgsql.NpgsqlConnection(connectionString))
        {
            await pauser.OpenAsync();
            await using var pause = await pauser.BeginTransactionAsync();
            await using (var write = new Npgsql.NpgsqlCommand(
                "UPDATE work_items SET paused_at = now(), paused_state = state, state = 'paused' WHERE data_type = @t AND entity_id = 'held'", pauser, pause))
            {
                write.Parameters.AddWithValue("t", Reminders);
                Assert.Equal(1, await write.ExecuteNonQueryAsync());
            }
            var scheduler = await node.App.Services.GetRequiredService<Quartz.ISchedulerFactory>().GetScheduler();
            await scheduler.PauseTrigger(BatchScheduler.Scheduling.WorkItemKeys.Trigger(Reminders, "held"));

            Assert.Equal(0, await repair.RepairAsync(CancellationToken.None));
            Assert.Equal("PAUSED", await TriggerStateAsync(connections, Reminders, "held"));
            await pause.CommitAsync();
        }

        Assert.Equal(0, await repair.RepairAsync(CancellationToken.None));
        Assert.Equal("PAUSED", await TriggerStateAsync(connections, Reminders, "held"));
        Assert.Equal(WorkItemStates.Paused, (await node.ItemAsync(Reminders, "held"))!.State);
    }

    /// <summary>
    /// A never-run item registered while its data type is paused is stored with its trigger PAUSED, as Quartz
    /// stores a trigger of a paused group (PostgreSQL's registration writes the row itself), so it never fires
    /// while paused; it keeps its place (due at once, ahead) and runs promptly on resume, not a cadence later.
    /// </summary>
    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task ItemRegisteredWhilePaused_RunsPromptlyOnResume(string provider)
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync(provider, recorder);
        await using var _ = database;
        await using var __ = node;
        await PostAsync(node, $"/api/data-types/{Reminders}/pause", new { reason = "outage" });
        await node.PutAsync(Reminders, "hourly-1", new { tier = "often-hourly" });

        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        Assert.Equal(("PAUSED", null), (await TriggerStateAsync(connections, Reminders, "hourly-1"), await OneOffStateAsync(connections, Reminders, "hourly-1")));

        await PostAsync(node, $"/api/data-types/{Reminders}/resume");

        await node.WaitForStateAsync(Reminders, "hourly-1", WorkItemStates.Completed);
        Assert.Equal(1, recorder.Of(Reminders, "hourly-1"));
    }

    /// <summary>
    /// PostgreSQL: a large registration for a paused data type (one statement writes the items and Quartz's
    /// rows) stores every trigger PAUSED, as Quartz would, so none of them fires while paused. Written WAITING,
    /// each fired, had its start refused and came back as a paused one-off, and a control data type's item due
    /// at the same time waited behind that churn.
    /// </summary>
    [Fact]
    public async Task LargeRegistrationForAPausedDataType_StoresTriggersPaused_NothingFires_ControlRunsPromptly()
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync("Postgres", recorder);
        await using var _ = database;
        await using var __ = node;
        await PostAsync(node, $"/api/data-types/{Reminders}/pause", new { reason = "vendor outage" });
        var due = SecondsAhead(1);
        var count = PostgresStatistics.MinimumRows;
        using (var response = await node.Http.PostAsJsonAsync("/api/work-items", new
        {
            dataType = Reminders,
            items = Enumerable.Range(0, count).Select(i => new { entityId = $"b{i:0000}", runAt = due.ToString("O") }),
        }))
        {
            response.EnsureSuccessStatusCode();
        }
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        Assert.Equal(0, await NotPausedOrFiredAsync(connections, Reminders));

        await node.PutAsync(Control, "same-time", new { runAt = due.ToString("O") });

        await ControlRanAsync(node, recorder, ["same-time"]);
        Assert.Equal(0, await NotPausedOrFiredAsync(connections, Reminders));
        Assert.Empty(recorder.Starts.Keys.Where(k => k.StartsWith(Reminders, StringComparison.Ordinal)));
        await PostAsync(node, $"/api/data-types/{Reminders}/resume");
        await Eventually.TrueAsync(() => Task.FromResult(Enumerable.Range(0, count).All(i => recorder.Of(Reminders, $"b{i:0000}") == 1)),
            TimeSpan.FromSeconds(60), "every item registered while paused should run once after the resume");
    }

    /// <summary>
    /// PostgreSQL: a start statement that took its snapshot before a data type's pause committed, then waited
    /// for the item's row (a mover held it), must not start the item once it gets the row: the pause has been
    /// answered by then. Reproduced by holding the row from the test while the pause is made.
    /// </summary>
    [Fact]
    public async Task StartWaitingForTheRowAcrossADataTypePause_DoesNotRunTheItem()
    {
        var recorder = new Recorder();
        var (node, database, connectionString) = await StartAsync("Postgres", recorder);
        await using var _ = database;
        await using var __ = node;
        // Due only once the row is held: with a runAt a few seconds ahead, a busy machine ran the item before the test held its row.
        await node.PutAsync(Reminders, "raced", new { runAt = SecondsAhead(3600).ToString("O") });
        await using var holder = new Npgsql.NpgsqlConnection(connectionString);
        await holder.OpenAsync();
        await using var held = await holder.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand("SELECT 1 FROM work_items WHERE data_type = 'reminders' AND entity_id = 'raced' FOR UPDATE", holder, held))
            await lockRow.ExecuteNonQueryAsync();
        await MakeDueAsync(node, Reminders, "raced", TimeProvider.System.GetUtcNow());
        await using var watcher = new Npgsql.NpgsqlConnection(connectionString);
        await watcher.OpenAsync();
        await Eventually.TrueAsync(async () =>
        {
            await using var waiting = new Npgsql.NpgsqlCommand(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE work_items%in_flight%'", watcher);
            return Convert.ToInt64(await waiting.ExecuteScalarAsync()) > 0;
        }, TimeSpan.FromSeconds(30), "the item's start should be waiting for its row");

        await PostAsync(node, $"/api/data-types/{Reminders}/pause", new { reason = "outage" });
        await held.CommitAsync();

        await Eventually.TrueAsync(async () => (await node.ItemAsync(Reminders, "raced"))!.State != WorkItemStates.NeverRun, TimeSpan.FromSeconds(30),
            "the refused or handed-back start should be recorded");
        Assert.Equal(0, recorder.Of(Reminders, "raced"));
        await PostAsync(node, $"/api/data-types/{Reminders}/resume");
        await node.WaitForStateAsync(Reminders, "raced", WorkItemStates.Completed);
        Assert.Equal(1, recorder.Of(Reminders, "raced"));
    }

    [Fact]
    public async Task PauseRoutes_BadInput_AnswersNamingTheField()
    {
        var recorder = new Recorder();
        var (node, database, _) = await StartAsync("Sqlite", recorder);
        await using var _ = database;
        await using var __ = node;
        await node.PutAsync(Reminders, "x", new { runAt = SecondsAhead(3600).ToString("O") });

        async Task<(HttpStatusCode, string)> Post(string path, object? body)
        {
            using var response = body is null ? await node.Http.PostAsync(path, null) : await node.Http.PostAsJsonAsync(path, body);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var (status, text) = await Post($"/api/data-types/{Reminders}/pause", new { });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("reason", text, StringComparison.Ordinal);
        (status, text) = await Post($"/api/work-items/{Reminders}/x/pause", new { reason = new string('r', 251) });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("reason", text, StringComparison.Ordinal);
        (status, text) = await Post("/api/data-types/nope/pause", new { reason = "r" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("nope", text, StringComparison.Ordinal);
        (status, text) = await Post($"/api/work-items/{Reminders}/missing/pause", new { reason = "r" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, text) = await Post($"/api/work-items/{Reminders}/missing/resume", null);
        Assert.Equal(HttpStatusCode.NotFound, status);
        (status, text) = await Post("/api/data-types/nope/resume", null);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.BulkActions;

/// <summary>
/// <c>POST /api/work-items/actions</c> on real nodes and stores: each action moves exactly the items its filter
/// matches (others untouched), as the single-item routes do; a large action answers 202 and shows its progress;
/// an action its node stops is reported interrupted.
/// </summary>
public sealed class BulkActionsTests
{
    private const string Vendor = "vendor";
    private const string Other = "other";

    /// <summary>Fails items named dl-* with "Vendor outage …" while <see cref="Outage"/> is set, and bad-* always ("Bad record").</summary>
    private sealed class Outages
    {
        public volatile bool Outage = true;

        public RecordingExecutor Executor { get; }

        public Outages() => Executor = new RecordingExecutor
        {
            Throw = c => c.EntityId.StartsWith("bad-", StringComparison.Ordinal) ? new InvalidOperationException($"Bad record {c.EntityId}")
                : Outage && c.EntityId.StartsWith("dl-", StringComparison.Ordinal) ? new InvalidOperationException($"Vendor outage for {c.EntityId}")
                : null,
        };

        public int Calls(string dataType, string entityId) => Executor.Calls.Count(c => c.DataType == dataType && c.EntityId == entityId);
    }

    private static Dictionary<string, string?> Settings(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["Cluster:CheckinInterval"] = "00:00:01" };
        foreach (var type in new[] { Vendor, Other })
        {
            settings[$"DataTypes:{type}:Executor"] = "recorder";
            settings[$"DataTypes:{type}:Retry:MaxRetryAttempts"] = "0";
            settings[$"DataTypes:{type}:Cadence:once"] = "";
            settings[$"DataTypes:{type}:Cadence:slow"] = "01:00:00";
            settings[$"DataTypes:{type}:DefaultTier"] = "once";
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
            settings[key] = value;
        return settings;
    }

    /// <summary>A store for the test: a PostgreSQL database or a SQLite file, and its nodes' starter.</summary>
    private sealed class Store : IAsyncDisposable
    {
        private readonly PostgresTestDatabase? _postgres;
        private readonly SqliteTestDatabase? _sqlite;

        private Store(PostgresTestDatabase? postgres, SqliteTestDatabase? sqlite) => (_postgres, _sqlite) = (postgres, sqlite);

        public static async Task<Store> CreateAsync(string provider) =>
            provider == "Postgres" ? new Store(await PostgresTestDatabase.CreateAsync(), null) : new Store(null, new SqliteTestDatabase());

        public Task<TestNode> StartNodeAsync(Outages outages, IDictionary<string, string?>? extra = null) =>
            TestNode.StartAsync(_postgres is null ? StorageProvider.Sqlite : StorageProvider.Postgres,
                _postgres?.ConnectionString ?? _sqlite!.ConnectionString, Settings(extra), s => s.AddExecutor("recorder", outages.Executor));

        public async ValueTask DisposeAsync()
        {
            if (_postgres is not null)
                await _postgres.DisposeAsync();
            _sqlite?.Dispose();
        }
    }

    private static async Task RegisterAsync(TestNode node, string dataType, IEnumerable<string> ids, DateTimeOffset? runAt = null)
    {
        using var response = await node.Http.PostAsJsonAsync("/api/work-items", new
        {
            dataType,
            items = ids.Select(id => new { entityId = id, runAt = runAt?.ToString("O") }).ToList(),
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, Uri? Location)> ActAsync(TestNode node, object body)
    {
        using var response = await node.Http.PostAsJsonAsync("/api/work-items/actions", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{(int)response.StatusCode} {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response.Headers.Location);
    }

    private static async Task<JsonElement> ActionAsync(TestNode node, string id) =>
        await node.Http.GetFromJsonAsync<JsonElement>($"/api/work-items/actions/{id}");

    private static void AssertCounts(JsonElement action, string state, long matched, long applied, long skipped = 0, long notApplied = 0)
    {
        Assert.Equal(state, action.GetProperty("state").GetString());
        Assert.Equal(
            (matched, applied, skipped, notApplied),
            (action.GetProperty("matched").GetInt64(), action.GetProperty("applied").GetInt64(), action.GetProperty("skipped").GetInt64(), action.GetProperty("notApplied").GetInt64()));
    }

    private static DateTimeOffset AnHourAhead() => TimeProvider.System.GetUtcNow().AddHours(1);

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task BulkRun_FortyDeadLettered_RerunsEachExactlyOnce_OthersUntouched(string provider)
    {
        var outages = new Outages();
        await using var store = await Store.CreateAsync(provider);
        await using var first = await store.StartNodeAsync(outages);
        // On PostgreSQL a second node shares the work (and takes the request): each item still runs once.
        await using var second = provider == "Postgres" ? await store.StartNodeAsync(outages) : null;
        var dead = Enumerable.Range(1, 40).Select(i => $"dl-{i:D2}").ToList();
        await RegisterAsync(first, Vendor, dead);
        await RegisterAsync(first, Vendor, ["bad-1", "bad-2"]);   // dead-lettered for another reason
        await RegisterAsync(first, Vendor, ["ok-1"]);             // completed
        await RegisterAsync(first, Other, ["dl-1", "dl-2"]);      // dead-lettered, another data type
        foreach (var id in dead.Concat(["bad-1", "bad-2"]))
            await first.WaitForStateAsync(Vendor, id, WorkItemStates.DeadLettered);
        await first.WaitForStateAsync(Vendor, "ok-1", WorkItemStates.Completed);
        foreach (var id in new[] { "dl-1", "dl-2" })
            await first.WaitForStateAsync(Other, id, WorkItemStates.DeadLettered);
        outages.Outage = false;

        var (status, action, _) = await ActAsync(second ?? first, new
        {
            action = "run",
            filter = new { dataType = Vendor, state = WorkItemStates.DeadLettered, errorContains = "VENDOR outage" },
            reason = "vendor back",
        });

        Assert.Equal(HttpStatusCode.OK, status);
        AssertCounts(action, "done", matched: 40, applied: 40);
        foreach (var id in dead)
            await first.WaitForStateAsync(Vendor, id, WorkItemStates.Completed);
        // Triggers fire in due order: once a control item due after the re-runs has run, a second re-run would have too.
        await RegisterAsync(first, Other, ["control"]);
        await Eventually.TrueAsync(() => Task.FromResult(outages.Calls(Other, "control") == 1), TimeSpan.FromSeconds(30), "the control item should run");
        Assert.All(dead, id => Assert.Equal(2, outages.Calls(Vendor, id))); // the failed attempt and one re-run
        Assert.All(new[] { "bad-1", "bad-2" }, id => Assert.Equal(1, outages.Calls(Vendor, id)));
        Assert.Equal(WorkItemStates.DeadLettered, (await first.ItemAsync(Vendor, "bad-1"))!.State);
        Assert.Equal(1, outages.Calls(Vendor, "ok-1"));
        Assert.All(new[] { "dl-1", "dl-2" }, id => Assert.Equal(1, outages.Calls(Other, id)));
        Assert.Equal(WorkItemStates.DeadLettered, (await first.ItemAsync(Other, "dl-1"))!.State);

        // Again: nothing matches any more, nothing runs.
        var (_, again, _) = await ActAsync(first, new { action = "run", filter = new { dataType = Vendor, state = WorkItemStates.DeadLettered, errorContains = "vendor outage" } });
        AssertCounts(again, "done", matched: 0, applied: 0);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task PauseResumeTierDelete_MoveExactlyTheMatchingItems(string provider)
    {
        var outages = new Outages();
        await using var store = await Store.CreateAsync(provider);
        await using var node = await store.StartNodeAsync(outages);
        string[] chosen = ["a-1", "a-2", "a-3", "a-4"], others = ["b-1", "b-2"];
        await RegisterAsync(node, Vendor, chosen.Concat(others), AnHourAhead());
        await RegisterAsync(node, Other, ["a-1"], AnHourAhead());
        var filter = new { dataType = Vendor, entityPrefix = "a-" };

        var (_, paused, _) = await ActAsync(node, new { action = "pause", filter, reason = "vendor maintenance" });
        AssertCounts(paused, "done", matched: 4, applied: 4);
        foreach (var id in chosen)
        {
            var item = (await node.ItemAsync(Vendor, id))!;
            Assert.Equal((WorkItemStates.Paused, "vendor maintenance", "loopback"), (item.State, item.Paused?.Reason, item.Paused?.By));
        }
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync(Vendor, "b-1"))!.State);
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync(Other, "a-1"))!.State);
        var (_, pausedAgain, _) = await ActAsync(node, new { action = "pause", filter, reason = "again" });
        AssertCounts(pausedAgain, "done", matched: 4, applied: 0, skipped: 4);
        var (_, runPaused, _) = await ActAsync(node, new { action = "run", filter });
        AssertCounts(runPaused, "done", matched: 4, applied: 0, notApplied: 4); // refused, as run-now of a paused item is

        var (_, resumed, _) = await ActAsync(node, new { action = "resume", filter = new { dataType = Vendor, state = WorkItemStates.Paused } });
        AssertCounts(resumed, "done", matched: 4, applied: 4);
        Assert.All(await Task.WhenAll(chosen.Select(id => node.ItemAsync(Vendor, id))), i => Assert.Equal((WorkItemStates.NeverRun, null), (i!.State, i.Paused)));

        var (_, tiered, _) = await ActAsync(node, new { action = "tier", filter, tier = "slow" });
        AssertCounts(tiered, "done", matched: 4, applied: 4);
        Assert.All(await Task.WhenAll(chosen.Select(id => node.ItemAsync(Vendor, id))), i => Assert.Equal("slow", i!.Tier));
        Assert.Equal("once", (await node.ItemAsync(Vendor, "b-1"))!.Tier);
        Assert.Equal("once", (await node.ItemAsync(Other, "a-1"))!.Tier);

        var (_, deleted, _) = await ActAsync(node, new { action = "delete", filter = new { dataType = Vendor, tier = "slow" } });
        AssertCounts(deleted, "done", matched: 4, applied: 4);
        Assert.All(await Task.WhenAll(chosen.Select(id => node.ItemAsync(Vendor, id))), Assert.Null);
        Assert.NotNull(await node.ItemAsync(Vendor, "b-1"));
        Assert.NotNull(await node.ItemAsync(Vendor, "b-2"));
        Assert.NotNull(await node.ItemAsync(Other, "a-1"));
        Assert.Empty(outages.Executor.Calls);
    }

    [Theory]
    [InlineData("""{}""", "action is missing")]
    [InlineData("""{"action":"explode","filter":{"dataType":"vendor"}}""", "Unknown action 'explode'")]
    [InlineData("""{"action":"run"}""", "filter has no field")]
    [InlineData("""{"action":"run","filter":{}}""", "filter has no field")]
    [InlineData("""{"action":"run","filter":{"dataType":"nope"}}""", "filter.dataType: Unknown data type 'nope'")]
    [InlineData("""{"action":"run","filter":{"state":"sleeping"}}""", "filter.state: unknown state 'sleeping'")]
    [InlineData("""{"action":"run","filter":{"tier":"gold"}}""", "filter.tier: unknown tier 'gold'")]
    [InlineData("""{"action":"run","filter":{"dataType":"vendor","tier":"gold"}}""", "filter.tier: unknown tier 'gold' for data type 'vendor'")]
    [InlineData("""{"action":"run","filter":{"entityPrefix":""}}""", "filter.entityPrefix is empty")]
    [InlineData("""{"action":"run","filter":{"errorContains":" "}}""", "filter.errorContains is empty")]
    [InlineData("""{"action":"tier","filter":{"dataType":"vendor"}}""", "tier is missing")]
    [InlineData("""{"action":"tier","filter":{"state":"completed"},"tier":"slow"}""", "filter.dataType is missing")]
    [InlineData("""{"action":"tier","filter":{"dataType":"vendor"},"tier":"gold"}""", "tier: Unknown tier 'gold'")]
    [InlineData("""{"action":"run","filter":{"dataType":"vendor"},"tier":"slow"}""", "tier goes only with action tier")]
    [InlineData("""{"action":"pause","filter":{"dataType":"vendor"}}""", "reason is missing; action pause")]
    [InlineData("""{"action":"cancel","filter":{"dataType":"vendor"}}""", "reason is missing; action cancel")]
    public async Task Post_InvalidRequest_400NamesTheField(string body, string expected)
    {
        await using var store = await Store.CreateAsync("Sqlite");
        await using var node = await store.StartNodeAsync(new Outages());
        await RegisterAsync(node, Vendor, ["x-1"], AnHourAhead());

        using var response = await node.Http.PostAsync("/api/work-items/actions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Contains(expected, await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest));
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync(Vendor, "x-1"))!.State);
    }

    [Fact]
    public async Task MatchingAndGet_CountTheFilter_And404AnUnknownAction()
    {
        await using var store = await Store.CreateAsync("Sqlite");
        await using var node = await store.StartNodeAsync(new Outages());
        await RegisterAsync(node, Vendor, ["m-1", "m-2", "n-1"], AnHourAhead());

        var matching = await node.Http.GetFromJsonAsync<JsonElement>("/api/work-items/actions/matching?dataType=vendor&entityPrefix=m-");
        using var noFilter = await node.Http.GetAsync("/api/work-items/actions/matching");
        using var unknown = await node.Http.GetAsync("/api/work-items/actions/0123456789abcdef");

        Assert.Equal(2, matching.GetProperty("matched").GetInt64());
        Assert.Contains("The filter has no field", await ApiResponses.ProblemDetailAsync(noFilter, HttpStatusCode.BadRequest));
        Assert.Contains("No bulk action '0123456789abcdef'", await ApiResponses.ProblemDetailAsync(unknown, HttpStatusCode.NotFound));
    }

    /// <summary>
    /// A bulk cancel asks each matched item's running attempt to stop, as the single cancel route does: the items that
    /// run end paused ("Cancelled by loopback: …", their attempt not counted); matched items with nothing running are
    /// skipped, and the others are untouched.
    /// </summary>
    [Fact]
    public async Task BulkCancel_StopsTheRunningItems_SkipsTheRest()
    {
        var hung = new GateExecutor();
        var outages = new Outages();
        using var sqlite = new SqliteTestDatabase();
        var settings = Settings(new Dictionary<string, string?> { ["DataTypes:hung:Executor"] = "gate" });
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, sqlite.ConnectionString, settings, s =>
        {
            s.AddExecutor("recorder", outages.Executor);
            s.AddExecutor("gate", hung);
        });
        await RegisterAsync(node, "hung", ["h-1", "h-2"]);
        await RegisterAsync(node, "hung", ["later"], AnHourAhead());
        await node.WaitForStateAsync("hung", "h-1", WorkItemStates.InFlight);
        await node.WaitForStateAsync("hung", "h-2", WorkItemStates.InFlight);

        var (_, body, _) = await ActAsync(node, new { action = "cancel", filter = new { dataType = "hung" }, reason = "vendor hangs" });
        var action = body;
        await Eventually.TrueAsync(async () => (action = await ActionAsync(node, body.GetProperty("id").GetString()!)).GetProperty("state").GetString() != "running",
            TimeSpan.FromSeconds(30), "the bulk cancel should end");

        AssertCounts(action, "done", matched: 3, applied: 2, skipped: 1);
        foreach (var id in new[] { "h-1", "h-2" })
        {
            var item = await node.WaitForStateAsync("hung", id, WorkItemStates.Paused);
            Assert.Equal("Cancelled by loopback: vendor hangs", item.Paused?.Reason);
            Assert.Equal(0, item.Attempt);
        }
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync("hung", "later"))!.State);
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task LargeAction_Answers202WithLocation_AndShowsProgressToDone(string provider)
    {
        var outages = new Outages();
        await using var store = await Store.CreateAsync(provider);
        await using var node = await store.StartNodeAsync(outages, new Dictionary<string, string?>
        {
            ["BulkActions:ChunkSize"] = "3",
            ["BulkActions:ChunkPause"] = "00:00:00.2",
            ["BulkActions:RequestWait"] = "00:00:00",
        });
        var ids = Enumerable.Range(1, 12).Select(i => $"p-{i:D2}").ToList();
        await RegisterAsync(node, Vendor, ids, AnHourAhead());

        var (status, accepted, location) = await ActAsync(node, new { action = "pause", filter = new { dataType = Vendor }, reason = "slow down" });

        Assert.Equal(HttpStatusCode.Accepted, status);
        var id = accepted.GetProperty("id").GetString()!;
        Assert.Equal($"/api/work-items/actions/{id}", location?.OriginalString);
        Assert.Equal("running", accepted.GetProperty("state").GetString());
        Assert.Equal(12, accepted.GetProperty("matched").GetInt64());
        var seen = new List<long>();
        await Eventually.TrueAsync(async () =>
        {
            var now = await ActionAsync(node, id);
            seen.Add(now.GetProperty("applied").GetInt64());
            return now.GetProperty("state").GetString() == "done";
        }, TimeSpan.FromSeconds(30), "the action should end");
        AssertCounts(await ActionAsync(node, id), "done", matched: 12, applied: 12);
        Assert.Contains(seen, n => n is > 0 and < 12); // progress was visible chunk by chunk
        Assert.All(await Task.WhenAll(ids.Select(i => node.ItemAsync(Vendor, i))), i => Assert.Equal(WorkItemStates.Paused, i!.State));
    }

    [Theory]
    [InlineData("Sqlite")]
    [InlineData("Postgres")]
    public async Task NodeStopsMidAction_ActionIsReportedInterrupted_WithWhatItApplied(string provider)
    {
        var outages = new Outages();
        await using var store = await Store.CreateAsync(provider);
        var slow = new Dictionary<string, string?>
        {
            ["BulkActions:ChunkSize"] = "1",
            ["BulkActions:ChunkPause"] = "00:01:00",
            ["BulkActions:RequestWait"] = "00:00:00",
        };
        var node = await store.StartNodeAsync(outages, slow);
        string id;
        await using (node)
        {
            await RegisterAsync(node, Vendor, ["s-1", "s-2", "s-3"], AnHourAhead());
            var (status, accepted, _) = await ActAsync(node, new { action = "pause", filter = new { dataType = Vendor }, reason = "stop me" });
            Assert.Equal(HttpStatusCode.Accepted, status);
            id = accepted.GetProperty("id").GetString()!;
            await Eventually.TrueAsync(async () => (await ActionAsync(node, id)).GetProperty("applied").GetInt64() == 1,
                TimeSpan.FromSeconds(30), "the first chunk should be applied");
        }

        await using var restarted = await store.StartNodeAsync(outages);
        var action = await ActionAsync(restarted, id);

        AssertCounts(action, "interrupted", matched: 3, applied: 1);
        Assert.Contains("stopped", action.GetProperty("error").GetString());
        Assert.Equal(WorkItemStates.Paused, (await restarted.ItemAsync(Vendor, "s-1"))!.State);
        Assert.Equal(WorkItemStates.NeverRun, (await restarted.ItemAsync(Vendor, "s-3"))!.State);
    }

    [Fact]
    public async Task TwoNodes_ActionOfADeadNode_IsInterrupted_ALiveNodesRunsOn()
    {
        var outages = new Outages();
        await using var store = await Store.CreateAsync("Postgres");
        var slow = new Dictionary<string, string?>
        {
            ["BulkActions:ChunkSize"] = "1",
            ["BulkActions:ChunkPause"] = "00:01:00",
            ["BulkActions:RequestWait"] = "00:00:00",
        };
        await using var first = await store.StartNodeAsync(outages, slow);
        await using var second = await store.StartNodeAsync(outages, slow);
        await RegisterAsync(first, Vendor, ["d-1", "d-2"], AnHourAhead());
        var (_, live, _) = await ActAsync(second, new { action = "pause", filter = new { dataType = Vendor }, reason = "slowly" });
        // An action left running by a node that died (no check-in): as a SIGKILL leaves it.
        var connections = first.App.Services.GetRequiredService<ConnectionFactory>();
        await using (var connection = await connections.OpenAsync(CancellationToken.None))
        {
            await using var insert = connection.Command(
                """
                INSERT INTO bulk_actions (id, action, filter, requested_by, node_id, state, matched, applied, skipped, not_applied, started_at)
                VALUES ('00000000000000aa', 'run', '{"dataType":"vendor"}', 'loopback', 'dead-node', 'running', 2, 1, 0, 0, @now)
                """).With("@now", TimeProvider.System.GetUtcNow());
            await insert.ExecuteNonQueryAsync();
        }

        var dead = await ActionAsync(first, "00000000000000aa");
        var running = await ActionAsync(first, live.GetProperty("id").GetString()!);

        AssertCounts(dead, "interrupted", matched: 2, applied: 1);
        Assert.Equal("running", running.GetProperty("state").GetString());
        Assert.Equal(second.App.Services.GetRequiredService<BatchScheduler.Configuration.NodeIdentity>().Id, running.GetProperty("nodeId").GetString());
    }
}

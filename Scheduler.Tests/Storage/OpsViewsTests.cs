using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Storage.Migrations;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Xunit.Abstractions;
using static BatchScheduler.Tests.Storage.OpsScenario;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// The ops views (V018) on real SQLite and PostgreSQL: after migrate they exist with the columns
/// database/README.md documents, and over a real node's items every row agrees with what the API answers
/// for the same item (the expected values are the API's, never written into the test).
/// </summary>
public sealed partial class OpsViewsTests(ITestOutputHelper output)
{
    private static readonly string[] Views = ["ops_work_items", "ops_schedule", "ops_in_flight", "ops_stale_by_data_type"];

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task Migrate_CreatesEveryOpsView_WithTheColumnsDatabaseReadmeDocuments(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await new AnyStoreMigrator(new TestOutputLogger<BatchScheduler.Storage.Migrations.SchemaMigrator>(output))
            .MigrateAsync(provider, store.ConnectionString, CancellationToken.None);

        var documented = DocumentedColumns();
        Assert.Equal(Views, documented.Keys);
        foreach (var view in Views)
            Assert.Equal(documented[view], await ColumnsAsync(provider, store.ConnectionString, view));
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task OpsViews_OverARealNodesItems_AgreeWithTheApi(StorageProvider provider)
    {
        await using var scenario = await OpsScenario.StartAsync(provider);
        var problems = new List<string>();

        // The items do not move while the test reads (next runs an hour or more away, a paused data type, a
        // gated attempt), but a completion's last writes may still land: read until the views and the API agree.
        var agreed = await Eventually.WithinAsync(async () =>
        {
            problems = [.. await WorkItemsProblemsAsync(scenario), .. await ScheduleProblemsAsync(scenario),
                .. await InFlightProblemsAsync(scenario), .. await StaleProblemsAsync(scenario)];
            return problems.Count == 0;
        }, TimeSpan.FromSeconds(20));

        Assert.True(agreed, "The views disagree with the API:\n" + string.Join("\n", problems));
    }

    /// <summary>
    /// PostgreSQL, nodes that check in: an item in flight on a node whose check-in is 4 s old with a 1 s interval
    /// is on a live node (Quartz's margin is 7.5 s), one whose check-in is 20 s old is not: as <c>GET /api/nodes</c> says.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task OpsInFlight_NodeLiveness_FollowsTheRuleOfApiNodes()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        // API only: no Quartz scheduler on it, so nothing recovers or removes the check-ins written below.
        await using var node = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:x:Executor"] = "noop",
            ["DataTypes:x:Cadence:first"] = "01:00:00",
        });
        var sched = node.App.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.SchedulerName;
        await node.PutAsync("x", "on-recent", new { tier = "first" });
        await node.PutAsync("x", "on-lapsed", new { tier = "first" });
        var now = TimeProvider.System.GetUtcNow();
        await ExecuteAsync(store.ConnectionString,
            """
            INSERT INTO qrtz_scheduler_state (sched_name, instance_name, last_checkin_time, checkin_interval)
            VALUES (@sched, 'ghost-recent', @recent, 1000), (@sched, 'ghost-lapsed', @lapsed, 1000);
            UPDATE work_items SET state = 'in_flight', node_id = 'ghost-' || substr(entity_id, 4), updates_start = @now, fence = fence + 1
            WHERE data_type = 'x';
            """,
            ("sched", sched), ("recent", (now - TimeSpan.FromSeconds(4)).UtcTicks), ("lapsed", (now - TimeSpan.FromSeconds(20)).UtcTicks), ("now", now));

        var rows = await ReadRowsAsync(StorageProvider.Postgres, store.ConnectionString, "SELECT * FROM ops_in_flight ORDER BY entity_id");
        var nodes = (await node.Http.GetFromJsonAsync<JsonElement>("/api/nodes")).EnumerateArray()
            .ToDictionary(n => n.GetProperty("nodeId").GetString()!, n => n);

        Assert.Equal(["on-lapsed", "on-recent"], rows.Select(r => (string)r["entity_id"]!));
        Assert.Equal([false, true], rows.Select(r => nodes[(string)r["node_id"]!].GetProperty("alive").GetBoolean())); // the API tells them apart
        foreach (var row in rows)
        {
            var api = nodes[(string)row["node_id"]!];
            Assert.Equal(api.GetProperty("alive").GetBoolean(), Flag(row["node_alive"]));
            Assert.True(SameTime(ViewTime(row["node_last_checkin"]), ApiTime(api, "lastCheckin")), $"{row["node_id"]}: {row["node_last_checkin"]} vs {api}");
            Assert.Equal(sched, row["sched_name"]);
        }
    }

    private static async Task<List<string>> WorkItemsProblemsAsync(OpsScenario scenario)
    {
        var rows = await scenario.RowsAsync("SELECT * FROM ops_work_items");
        var api = await scenario.ApiItemsAsync();
        var problems = SameKeys("ops_work_items", rows, api);
        foreach (var row in rows)
        {
            if (!api.TryGetValue(Key(row), out var item))
                continue;
            var paused = item.GetProperty("paused");
            var pausedNote = paused.ValueKind == JsonValueKind.Object;
            Expect(problems, "ops_work_items", row, "state", Text(item, "state"));
            Expect(problems, "ops_work_items", row, "tier", Text(item, "tier"));
            Expect(problems, "ops_work_items", row, "attempt", item.GetProperty("attempt").GetInt32().ToString(CultureInfo.InvariantCulture));
            Expect(problems, "ops_work_items", row, "last_error", Text(item, "lastError"));
            Expect(problems, "ops_work_items", row, "batch_id", Text(item, "batchId"));
            Expect(problems, "ops_work_items", row, "paused_by", pausedNote ? Text(paused, "by") : null);
            Expect(problems, "ops_work_items", row, "paused_reason", pausedNote ? Text(paused, "reason") : null);
            ExpectTime(problems, "ops_work_items", row, "updates_start", ApiTime(item, "updatesStart"));
            ExpectTime(problems, "ops_work_items", row, "updates_end", ApiTime(item, "updatesEnd"));
            ExpectTime(problems, "ops_work_items", row, "paused_at", pausedNote ? ApiTime(paused, "at") : null);
        }
        return problems;
    }

    private static async Task<List<string>> ScheduleProblemsAsync(OpsScenario scenario)
    {
        var rows = await scenario.RowsAsync("SELECT * FROM ops_schedule");
        var api = await scenario.ApiItemsAsync();
        var dataTypes = await DataTypesAsync(scenario);
        var problems = SameKeys("ops_schedule", rows, api);
        foreach (var row in rows)
        {
            if (!api.TryGetValue(Key(row), out var item))
                continue;
            var dataType = dataTypes[(string)row["data_type"]!];
            var state = Text(item, "state");
            var next = ApiTime(item, "nextRunAt");
            var typePaused = dataType.GetProperty("paused").GetBoolean();
            // The trigger's own schedule: a retry or deferral is a single firing; otherwise the tier's cadence.
            var cadence = next is null ? null
                : state is WorkItemStates.Retrying or WorkItemStates.Deferred ? "once"
                : dataType.GetProperty("cadence").GetProperty(Text(item, "tier")!).GetString() ?? "once";
            Expect(problems, "ops_schedule", row, "sched_name", scenario.SchedulerName);
            Expect(problems, "ops_schedule", row, "state", state);
            ExpectTime(problems, "ops_schedule", row, "next_run_at", next);
            Expect(problems, "ops_schedule", row, "paused", (state == WorkItemStates.Paused || typePaused).ToString());
            Expect(problems, "ops_schedule", row, "data_type_paused", typePaused.ToString());
            Expect(problems, "ops_schedule", row, "data_type_paused_by", Text(dataType, "pausedBy"));
            Expect(problems, "ops_schedule", row, "data_type_paused_reason", Text(dataType, "pausedReason"));
            ExpectTime(problems, "ops_schedule", row, "data_type_paused_at", ApiTime(dataType, "pausedAt"));
            Expect(problems, "ops_schedule", row, "calendar_name",
                next is not null && dataType.GetProperty("quietHours").GetArrayLength() > 0 ? $"quiet:{row["data_type"]}" : null);
            Expect(problems, "ops_schedule", row, "cadence", cadence);
            Expect(problems, "ops_schedule", row, "trigger_type", cadence is null ? null : cadence.StartsWith("cron:", StringComparison.Ordinal) ? "cron" : "simple");
            // Quartz's due order places a never-run item's first firing the lead early; the view says so.
            var lead = Flag(row["never_run_lead"]) == true;
            if (lead && state != WorkItemStates.NeverRun)
                problems.Add($"ops_schedule {Key(row)}: never_run_lead on an item in state {state}");
            ExpectTime(problems, "ops_schedule", row, "fire_order_at", lead ? next - TimeSpan.FromDays(30) : next);
        }
        if (!rows.Any(r => Flag(r["never_run_lead"]) == true))
            problems.Add("ops_schedule: the scenario should have a never-run item placed early in Quartz's due order");
        return problems;
    }

    private static async Task<List<string>> InFlightProblemsAsync(OpsScenario scenario)
    {
        var nodesBefore = await NodesAsync(scenario);
        var rows = await scenario.RowsAsync("SELECT * FROM ops_in_flight");
        var nodesAfter = await NodesAsync(scenario);
        var api = (await scenario.ApiItemsAsync()).Where(i => Text(i.Value, "state") == WorkItemStates.InFlight).ToDictionary();
        var problems = SameKeys("ops_in_flight", rows, api);
        var self = scenario.Node.App.Services.GetRequiredService<NodeIdentity>().Id;
        var interval = scenario.Node.App.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.CheckinInterval;
        if (api.Count == 0)
            problems.Add("the scenario has no item in flight");
        foreach (var row in rows)
        {
            if (!api.TryGetValue(Key(row), out var item))
                continue;
            Expect(problems, "ops_in_flight", row, "node_id", self);
            Expect(problems, "ops_in_flight", row, "quartz_executing_on", self);
            Expect(problems, "ops_in_flight", row, "attempt", item.GetProperty("attempt").GetInt32().ToString(CultureInfo.InvariantCulture));
            ExpectTime(problems, "ops_in_flight", row, "updates_start", ApiTime(item, "updatesStart"));
            if (scenario.Provider == StorageProvider.Sqlite)
            {
                // One SQLite node does not check in: the database cannot say whether it lives (the API answers
                // for itself). The view says "unknown", never "dead".
                Expect(problems, "ops_in_flight", row, "node_alive", null);
                Expect(problems, "ops_in_flight", row, "node_last_checkin", null);
                continue;
            }
            Expect(problems, "ops_in_flight", row, "node_alive", nodesAfter[self].GetProperty("alive").GetBoolean().ToString());
            Expect(problems, "ops_in_flight", row, "node_checkin_interval_ms", ((long)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            // Check-ins only move forward: the view's lies between the API's before and after it.
            var checkin = ViewTime(row["node_last_checkin"]);
            if (checkin is null || checkin < ApiTime(nodesBefore[self], "lastCheckin") - TimeSpan.FromMilliseconds(1)
                || checkin > ApiTime(nodesAfter[self], "lastCheckin") + TimeSpan.FromMilliseconds(1))
                problems.Add($"ops_in_flight {Key(row)}: node_last_checkin {checkin:O} not between the API's {nodesBefore[self]} and {nodesAfter[self]}");
        }
        return problems;
    }

    private static async Task<List<string>> StaleProblemsAsync(OpsScenario scenario)
    {
        var rows = await scenario.RowsAsync("SELECT * FROM ops_stale_by_data_type");
        var now = TimeProvider.System.GetUtcNow();
        var api = await scenario.ApiItemsAsync();
        var dataTypes = await DataTypesAsync(scenario);
        // A paused item's state before its pause is not in the API; the table keeps it.
        var pausedState = (await scenario.RowsAsync("SELECT data_type, entity_id, paused_state FROM work_items WHERE state = 'paused'"))
            .ToDictionary(Key, r => Text(r["paused_state"]));
        var problems = new List<string>();
        var expected = api.GroupBy(i => i.Key.Split('/')[0]).ToDictionary(g => g.Key, g =>
        {
            var items = g.Select(i =>
            {
                var state = Text(i.Value, "state")!;
                var effective = state == WorkItemStates.Paused ? pausedState[i.Key] : state;
                var next = ApiTime(i.Value, "nextRunAt");
                return (State: state, Excluded: Text(i.Value, "tier") == Tiers.Exclude, Running: effective == WorkItemStates.InFlight,
                    NotSucceeded: effective is WorkItemStates.Retrying or WorkItemStates.Deferred or WorkItemStates.DeadLettered or WorkItemStates.Expired,
                    Due: next <= now, Next: next, End: ApiTime(i.Value, "updatesEnd"));
            }).ToList();
            var counted = items.Where(i => !i.Excluded && !i.Running).ToList();
            return new Dictionary<string, string?>
            {
                ["items"] = items.Count.ToString(CultureInfo.InvariantCulture),
                ["excluded"] = items.Count(i => i.Excluded).ToString(CultureInfo.InvariantCulture),
                ["never_run"] = items.Count(i => i.State == WorkItemStates.NeverRun).ToString(CultureInfo.InvariantCulture),
                ["stale"] = counted.Count(i => i.NotSucceeded || i.Due).ToString(CultureInfo.InvariantCulture),
                ["due_not_started"] = counted.Count(i => i.Due).ToString(CultureInfo.InvariantCulture),
                ["not_succeeded"] = counted.Count(i => i.NotSucceeded).ToString(CultureInfo.InvariantCulture),
                ["in_flight"] = items.Count(i => i.Running).ToString(CultureInfo.InvariantCulture),
                ["data_type_paused"] = dataTypes[g.Key].GetProperty("paused").GetBoolean().ToString(),
                ["oldest_updates_end"] = items.Where(i => !i.Excluded).Min(i => i.End)?.ToString("O"),
                ["oldest_due_at"] = counted.Where(i => i.Due).Min(i => i.Next)?.ToString("O"),
            };
        });
        if (!expected.Values.Any(e => e["due_not_started"] != "0") || !expected.Values.Any(e => e["not_succeeded"] != "0") || !expected.Values.Any(e => e["stale"] == "0"))
            problems.Add("the scenario should have data types with items due and not started, not succeeded, and none stale");
        if (!rows.Select(r => (string)r["data_type"]!).Order().SequenceEqual(expected.Keys.Order()))
            problems.Add($"ops_stale_by_data_type: data types {string.Join(",", rows.Select(r => r["data_type"]))}, API {string.Join(",", expected.Keys)}");
        foreach (var row in rows)
        {
            if (!expected.TryGetValue((string)row["data_type"]!, out var want))
                continue;
            foreach (var (column, value) in want)
            {
                if (column.StartsWith("oldest_", StringComparison.Ordinal))
                    ExpectTime(problems, "ops_stale_by_data_type", row, column, value is null ? null : DateTimeOffset.Parse(value, CultureInfo.InvariantCulture));
                else
                    Expect(problems, "ops_stale_by_data_type", row, column, value);
            }
        }
        return problems;
    }

    private static async Task<Dictionary<string, JsonElement>> DataTypesAsync(OpsScenario scenario) =>
        (await scenario.GetAsync("/api/data-types")).EnumerateArray().ToDictionary(d => d.GetProperty("dataType").GetString()!, d => d);

    private static async Task<Dictionary<string, JsonElement>> NodesAsync(OpsScenario scenario) =>
        (await scenario.GetAsync("/api/nodes")).EnumerateArray().ToDictionary(d => d.GetProperty("nodeId").GetString()!, d => d);

    private static string Key(Dictionary<string, object?> row) =>
        row.TryGetValue("entity_id", out var entityId) ? $"{row["data_type"]}/{entityId}" : $"{row["data_type"]}";

    private static List<string> SameKeys(string view, List<Dictionary<string, object?>> rows, Dictionary<string, JsonElement> api)
    {
        var keys = rows.Select(Key).Order(StringComparer.Ordinal).ToList();
        return keys.SequenceEqual(api.Keys.Order(StringComparer.Ordinal))
            ? []
            : [$"{view}: rows {string.Join(", ", keys)}; API {string.Join(", ", api.Keys.Order(StringComparer.Ordinal))}"];
    }

    private static void Expect(List<string> problems, string view, Dictionary<string, object?> row, string column, string? expected)
    {
        var actual = row[column] switch
        {
            null => null,
            bool b => b.ToString(),
            long or int or short when expected is "True" or "False" => Flag(row[column]).ToString(),
            var v => Text(v),
        };
        if (actual != expected)
            problems.Add($"{view} {Key(row)}.{column}: view {actual ?? "null"}, API {expected ?? "null"}");
    }

    private static void ExpectTime(List<string> problems, string view, Dictionary<string, object?> row, string column, DateTimeOffset? expected)
    {
        var actual = ViewTime(row[column]);
        if (!SameTime(actual, expected))
            problems.Add($"{view} {Key(row)}.{column}: view {actual:O}, API {expected:O}");
    }

    private static async Task ExecuteAsync(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> ColumnsAsync(StorageProvider provider, string connectionString, string view)
    {
        await using var connection = DatabaseQueries.Connect(provider, connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {view} WHERE 1 = 0";
        await using var reader = await command.ExecuteReaderAsync();
        return [.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetName(i).ToLowerInvariant())];
    }

    /// <summary>Each view's columns in the order database/README.md's "Views" section lists them.</summary>
    private static Dictionary<string, List<string>> DocumentedColumns()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "database", "README.md"));
        var views = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        foreach (var line in readme.Split('\n'))
        {
            if (ViewHeading().Match(line) is { Success: true } heading)
                views[heading.Groups[1].Value] = current = [];
            else if (line.StartsWith("#", StringComparison.Ordinal))
                current = null;
            else if (current is not null && line.StartsWith("| `", StringComparison.Ordinal))
                current.AddRange(CodeSpan().Matches(line.Split('|')[1]).Select(m => m.Groups[1].Value));
        }
        return views;
    }

    [GeneratedRegex(@"^### `(ops_\w+)`")]
    private static partial Regex ViewHeading();

    [GeneratedRegex(@"`(\w+)`")]
    private static partial Regex CodeSpan();
}

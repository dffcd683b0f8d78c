using System.Data.Common;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Storage.Migrations;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// A real worker node with items in every shape the ops views tell apart: completed recurring items
/// (one of them paused by itself), a failed one waiting for its retry, never-run items due ahead (with
/// the never-run lead in Quartz's due order) on an interval and on a cron cadence, an excluded one, a
/// paused data type with a completed item and never-run items due and held, an item due inside quiet
/// hours (a Quartz calendar) and one held in flight by a gate executor.
/// </summary>
internal sealed class OpsScenario : IAsyncDisposable
{
    private OpsScenario(TestStore store, TestNode node, GateExecutor gate)
    {
        Store = store;
        Node = node;
        Gate = gate;
    }

    public TestStore Store { get; }

    public TestNode Node { get; }

    public GateExecutor Gate { get; }

    public StorageProvider Provider => Store.Provider;

    public string SchedulerName => Node.App.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.SchedulerName;

    public static async Task<OpsScenario> StartAsync(StorageProvider provider)
    {
        var store = await TestStore.CreateAsync(provider);
        var gate = new GateExecutor();
        var recording = new RecordingExecutor { Throw = c => c.EntityId.StartsWith("fail", StringComparison.Ordinal) ? new InvalidOperationException("vendor said no") : null };
        var now = TimeProvider.System.GetUtcNow();
        // Quiet hours from two to five hours ahead (whole UTC hours): an item due in three hours runs at their end.
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            ["DataTypes:prices:Executor"] = "rec",
            ["DataTypes:prices:Cadence:first"] = "01:00:00",
            ["DataTypes:prices:Cadence:daily"] = "1.00:00:00",
            ["DataTypes:prices:Cadence:nightly"] = "cron:0 0 3 * * ?",
            ["DataTypes:prices:Retry:MaxRetryAttempts"] = "3",
            ["DataTypes:prices:Retry:Delay"] = "01:00:00",
            ["DataTypes:prices:Retry:MaxDelay"] = "02:00:00",
            ["DataTypes:prices:Retry:UseJitter"] = "false",
            ["DataTypes:held:Executor"] = "rec",
            ["DataTypes:held:Cadence:first"] = "01:00:00",
            ["DataTypes:hung:Executor"] = "gate",
            ["DataTypes:hung:Cadence:first"] = "01:00:00",
            ["DataTypes:quiet:Executor"] = "rec",
            ["DataTypes:quiet:Cadence:first"] = "01:00:00",
            ["DataTypes:quiet:QuietHours:0:From"] = now.AddHours(2).ToString("HH:00", CultureInfo.InvariantCulture),
            ["DataTypes:quiet:QuietHours:0:To"] = now.AddHours(5).ToString("HH:00", CultureInfo.InvariantCulture),
        };
        TestNode? node = null;
        try
        {
            node = await TestNode.StartAsync(provider, store.ConnectionString, settings, s => s.AddExecutor("rec", recording).AddExecutor("gate", gate));
            var scenario = new OpsScenario(store, node, gate);
            await scenario.SeedAsync(now);
            return scenario;
        }
        catch
        {
            if (node is not null)
                await node.DisposeAsync();
            await store.DisposeAsync();
            throw;
        }
    }

    private async Task SeedAsync(DateTimeOffset now)
    {
        await Node.PutAsync("prices", "ok-1", new { tier = "first" });
        await Node.PutAsync("prices", "ok-2", new { tier = "daily" });
        await Node.PutAsync("prices", "fail-1", new { tier = "first" });
        await Node.PutAsync("prices", "later", new { tier = "first", runAt = now.AddDays(1).ToString("O") });
        await Node.PutAsync("prices", "nightly-1", new { tier = "nightly" });
        await Node.PutAsync("prices", "skip", new { tier = "exclude" });
        await Node.PutAsync("held", "done-1", new { tier = "first" });
        await Node.PutAsync("quiet", "q-1", new { tier = "first", runAt = now.AddHours(3).ToString("O") });
        await Node.PutAsync("hung", "h-1", new { tier = "first" });

        await Node.WaitForStateAsync("prices", "ok-1", WorkItemStates.Completed);
        await Node.WaitForStateAsync("prices", "ok-2", WorkItemStates.Completed);
        await Node.WaitForStateAsync("prices", "fail-1", WorkItemStates.Retrying);
        await Node.WaitForStateAsync("held", "done-1", WorkItemStates.Completed);
        await Gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Node.WaitForStateAsync("hung", "h-1", WorkItemStates.InFlight);

        await PostAsync("/api/data-types/held/pause", new { reason = "vendor outage" });
        await Node.PutAsync("held", "new-1", new { tier = "first" });
        await Node.PutAsync("held", "new-2", new { tier = "first" });
        await PostAsync("/api/work-items/prices/ok-2/pause", new { reason = "checking the feed" });
    }

    private async Task PostAsync(string path, object body)
    {
        using var response = await Node.Http.PostAsJsonAsync(path, body);
        response.EnsureSuccessStatusCode();
    }

    public Task<JsonElement> GetAsync(string path) => Node.Http.GetFromJsonAsync<JsonElement>(path);

    /// <summary>Every item as <c>GET /api/work-items/{dataType}/{entityId}</c> answers it, keyed "dataType/entityId".</summary>
    public async Task<Dictionary<string, JsonElement>> ApiItemsAsync()
    {
        var listed = await GetAsync("/api/work-items?pageSize=1000");
        var items = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var item in listed.GetProperty("items").EnumerateArray())
        {
            var (dataType, entityId) = (item.GetProperty("dataType").GetString()!, item.GetProperty("entityId").GetString()!);
            items[$"{dataType}/{entityId}"] = await GetAsync($"/api/work-items/{dataType}/{Uri.EscapeDataString(entityId)}");
        }
        return items;
    }

    /// <summary>The rows of <paramref name="sql"/>, each column by its (lower-case) name.</summary>
    public Task<List<Dictionary<string, object?>>> RowsAsync(string sql) => ReadRowsAsync(Provider, Store.ConnectionString, sql);

    public static async Task<List<Dictionary<string, object?>>> ReadRowsAsync(StorageProvider provider, string connectionString, string sql)
    {
        await using DbConnection connection = DatabaseQueries.Connect(provider, connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Dictionary<string, object?>>();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
                row[reader.GetName(i).ToLowerInvariant()] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>A view's time: timestamptz (PostgreSQL) or ISO-8601 text in UTC (SQLite).</summary>
    public static DateTimeOffset? ViewTime(object? value) => value switch
    {
        null => null,
        DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
        DateTimeOffset d => d.ToUniversalTime(),
        string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
        _ => throw new InvalidCastException($"Not a time: {value} ({value.GetType()})"),
    };

    /// <summary>A view's boolean: boolean (PostgreSQL) or 0/1 (SQLite).</summary>
    public static bool? Flag(object? value) => value switch
    {
        null => null,
        bool b => b,
        _ => Convert.ToInt64(value, CultureInfo.InvariantCulture) != 0,
    };

    public static long Count(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);

    public static string? Text(object? value) => value is null ? null : Convert.ToString(value, CultureInfo.InvariantCulture);

    public static DateTimeOffset? ApiTime(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset() : null;

    public static string? Text(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Equal to the view's precision: SQLite shows milliseconds, PostgreSQL microseconds.</summary>
    public static bool SameTime(DateTimeOffset? view, DateTimeOffset? api) =>
        view is null || api is null ? view == api : (view.Value - api.Value).Duration() <= TimeSpan.FromMilliseconds(1);

    public async ValueTask DisposeAsync()
    {
        Gate.Release();
        await Node.DisposeAsync();
        await Store.DisposeAsync();
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using Quartz;

namespace BatchScheduler.Tests.Batches;

/// <summary>
/// <c>runAt</c> in batch records (a JSONL field, a CSV column): the record's item is due at it, not
/// before; a bad one, or one not before the batch's deadline, makes the record invalid with an error
/// line naming the field; and the item's expiry window counts from it.
/// </summary>
public sealed class BatchRunAtTests
{
    private const string DataType = "reminders";

    /// <summary>Records when each item's attempt started, by the wall clock.</summary>
    private sealed class StartTimes : IWorkItemExecutor
    {
        public ConcurrentDictionary<string, DateTimeOffset> Starts { get; } = new(StringComparer.Ordinal);

        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Starts.TryAdd(context.EntityId, TimeProvider.System.GetUtcNow());
            return ValueTask.CompletedTask;
        }
    }

    private static async Task<TestNode> StartAsync(TestStore store, string role, StartTimes executor) =>
        await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = role,
            [$"DataTypes:{DataType}:Executor"] = "starts",
            [$"DataTypes:{DataType}:Cadence:once"] = "",
            [$"DataTypes:{DataType}:Expiry"] = "01:00:00",
            ["Batches:MonitorInterval"] = "00:00:00.200",
        }, s => s.AddExecutor("starts", executor));

    private static async Task<string> SubmitAsync(TestNode node, string contentType, string body, string query = "")
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await node.Http.PostAsync($"/api/batches?dataType={DataType}{query}", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<Dictionary<long, string>> ErrorsAsync(TestNode node, string id) =>
        (await node.Http.GetFromJsonAsync<List<JsonElement>>($"/api/batches/{id}/errors"))!
            .ToDictionary(e => e.GetProperty("line").GetInt64(), e => e.GetProperty("reason").GetString()!);

    private static async Task<WorkItem> RegisteredAsync(TestNode node, string entityId)
    {
        WorkItem? item = null;
        await Eventually.TrueAsync(async () => (item = await node.ItemAsync(DataType, entityId)) is { NextRunAt: not null },
            TimeSpan.FromSeconds(30), $"{entityId} should be registered with a trigger");
        return item!;
    }

    /// <summary>Whole seconds, a few ahead: what a file holds, and enough to see an early start.</summary>
    private static DateTimeOffset SecondsAhead(int seconds)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero).AddSeconds(seconds + 1);
    }

    private static string Z(DateTimeOffset at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task JsonlRunAt_ItemStartsNotBeforeIt_AndABadOrTooLateRunAtIsAnInvalidRecordNamingTheField(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var executor = new StartTimes();
        await using var node = await StartAsync(store, NodeRoles.Worker, executor);
        var runAt = SecondsAhead(3);
        var deadline = SecondsAhead(3600);
        var file = string.Join('\n',
            $$"""{"entityId":"soon","runAt":"{{runAt.ToOffset(TimeSpan.FromHours(2)):yyyy-MM-dd'T'HH:mm:sszzz}}","dose":"5 mg"}""",
            """{"entityId":"unparsable","runAt":"tomorrow morning"}""",
            """{"entityId":"number","runAt":1767225600}""",
            $$"""{"entityId":"after-deadline","runAt":"{{Z(deadline.AddMinutes(1))}}"}""",
            """{"entityId":"now","runAt":null}""") + "\n";

        var id = await SubmitAsync(node, "application/x-ndjson", file, $"&deadline={Z(deadline)}");

        var errors = await ErrorsAsync(node, id);
        Assert.Equal([2L, 3L, 4L], errors.Keys.Order());
        Assert.StartsWith("runAt 'tomorrow morning' is not an ISO 8601 instant", errors[2], StringComparison.Ordinal);
        Assert.Equal("runAt must be a string, not the number 1767225600", errors[3]);
        Assert.Contains("runAt", errors[4], StringComparison.Ordinal);
        Assert.Contains("is not before the batch's deadline", errors[4], StringComparison.Ordinal);
        Assert.Equal(runAt, (await RegisteredAsync(node, "soon")).NextRunAt);
        var soon = await node.WaitForStateAsync(DataType, "soon", WorkItemStates.Completed);
        Assert.True(soon.UpdatesStart >= runAt, $"updates_start {soon.UpdatesStart:O} is before runAt {runAt:O}");
        Assert.True(executor.Starts["soon"] >= runAt, $"started at {executor.Starts["soon"]:O}, before runAt {runAt:O}");
        Assert.Equal("""{"dose":"5 mg"}""", soon.Payload!.Value.GetRawText()); // runAt is the record's field, not the payload's
        await node.WaitForStateAsync(DataType, "now", WorkItemStates.Completed);
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task CsvRunAtColumn_IsTheItemsNextRun_EmptyIsNow_AndABadCellIsAnInvalidRecordNamingTheField(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var executor = new StartTimes();
        await using var node = await StartAsync(store, NodeRoles.Worker, executor);
        var later = SecondsAhead(3600);
        var file = $"entityId,RunAt,dose\nlater,{Z(later)},5 mg\nblank,,10 mg\nbad,2026-13-40T08:00:00Z,1 mg\n";

        var id = await SubmitAsync(node, "text/csv", file);

        var errors = await ErrorsAsync(node, id);
        Assert.StartsWith("runAt '2026-13-40T08:00:00Z' is not an ISO 8601 instant", Assert.Single(errors, e => e.Key == 4).Value, StringComparison.Ordinal);
        Assert.Single(errors);
        var item = await RegisteredAsync(node, "later");
        Assert.Equal(later, item.NextRunAt);
        Assert.Equal("""{"dose":"5 mg"}""", item.Payload!.Value.GetRawText());
        await node.WaitForStateAsync(DataType, "blank", WorkItemStates.Completed);
        Assert.Equal(WorkItemStates.NeverRun, (await node.ItemAsync(DataType, "later"))!.State);
        Assert.False(executor.Starts.ContainsKey("later"));
    }

    /// <summary>
    /// The firing of a batch item with a runAt, admitted on a fake clock long after the registration: its one-hour
    /// expiry window counts from the runAt, not from when the record was registered (ten days before).
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ExpiryWindow_CountsFromTheRecordsRunAt_NotFromItsRegistration(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        // A worker: its attempt writer writes the start. Quartz will not fire these items for ten days.
        await using var node = await StartAsync(store, NodeRoles.Worker, new StartTimes());
        var runAt = SecondsAhead(10 * 24 * 3600);
        await SubmitAsync(node, "application/x-ndjson",
            $$"""
            {"entityId":"in-time","runAt":"{{Z(runAt)}}"}
            {"entityId":"too-late","runAt":"{{Z(runAt)}}"}

            """);
        await RegisteredAsync(node, "in-time");
        await RegisteredAsync(node, "too-late");
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(DataType, out var dataType));
        var clock = new FakeTimeProvider(runAt + TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1));
        var admission = ActivatorUtilities.CreateInstance<FiringAdmission>(node.App.Services, (TimeProvider)clock);

        var admitted = await AdmitAsync(node, admission, dataType, "in-time", clock);
        clock.Advance(TimeSpan.FromSeconds(2)); // one second past runAt + expiry
        var refused = await AdmitAsync(node, admission, dataType, "too-late", clock);

        Assert.NotNull(admitted);
        var started = (await node.ItemAsync(DataType, "in-time"))!;
        Assert.Equal((WorkItemStates.InFlight, runAt + TimeSpan.FromHours(1) - TimeSpan.FromSeconds(1)), (started.State, started.UpdatesStart));
        Assert.Null(refused);
        var expired = (await node.ItemAsync(DataType, "too-late"))!;
        Assert.Equal(WorkItemStates.Expired, expired.State);
        Assert.Contains($"from {runAt:u}", expired.LastError, StringComparison.Ordinal);
    }

    /// <summary>Admits the firing of the item's trigger as Quartz would hand it over, at the fake clock's time.</summary>
    private static async Task<Admitted?> AdmitAsync(TestNode node, FiringAdmission admission, DataTypeDefinition dataType, string entityId, TimeProvider clock)
    {
        var scheduler = await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var trigger = await scheduler.GetTrigger(WorkItemKeys.Trigger(DataType, entityId));
        Assert.NotNull(trigger);
        var firing = Substitute.For<IJobExecutionContext>();
        firing.Trigger.Returns(trigger);
        firing.ScheduledFireTimeUtc.Returns(trigger.NextFireTimeUtc);
        return await admission.AdmitAsync(firing, dataType, entityId, FiringData.From(firing, clock.GetUtcNow()));
    }
}

/// <summary>The <c>runAt</c> batch example of docs/batches.md, run as written against a node with the shipped <c>dose-reminder</c>.</summary>
public sealed class BatchRunAtReadmeTests
{
    [Fact]
    public async Task ReadmeExample_CsvWithRunAt_AnswersAsTheReadmeSays()
    {
        var readme = File.ReadAllText(Path.Combine(BatchScheduler.Tests.Infrastructure.RepositoryRoot.Path, "docs", "batches.md")).ReplaceLineEndings("\n");
        var csv = System.Text.RegularExpressions.Regex.Match(readme, "cat > doses.csv <<'CSV'\n(?<file>.*?\n)CSV\n", System.Text.RegularExpressions.RegexOptions.Singleline).Groups["file"].Value;
        var query = System.Text.RegularExpressions.Regex.Match(readme, "curl -s -X POST \"\\$B(?<path>/api/batches\\?dataType=dose-reminder&deadline=[^\"]+)\" -H 'Content-Type: text/csv' --data-binary @doses.csv").Groups["path"].Value;
        var nextRunAt = System.Text.RegularExpressions.Regex.Match(readme, "patient-7   # \\{.*\"nextRunAt\":\"(?<at>[^\"]+)\"").Groups["at"].Value;
        var reason = System.Text.RegularExpressions.Regex.Match(readme, "#   \"reason\":\"(?<reason>runAt 'tomorrow'[^\"]+)\"").Groups["reason"].Value;
        Assert.All(new[] { csv, query, nextRunAt, reason }, part => Assert.NotEqual("", part));
        using var sqlite = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, sqlite.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:dose-reminder:Executor"] = "noop",
            ["DataTypes:dose-reminder:Expiry"] = "00:10:00",
        }, s => s.AddExecutor("noop", new NoopExecutor()));

        using var content = new StringContent(csv, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/csv");
        using var response = await node.Http.PostAsync(query, content);
        var batch = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal((3, 1), (batch.GetProperty("total").GetInt32(), batch.GetProperty("invalid").GetInt32()));
        await node.WaitForStateAsync("dose-reminder", "patient-8", WorkItemStates.Completed);
        var item = await node.Http.GetFromJsonAsync<JsonElement>("/api/work-items/dose-reminder/patient-7");
        Assert.Equal((WorkItemStates.NeverRun, nextRunAt), (item.GetProperty("state").GetString(), item.GetProperty("nextRunAt").GetString()));
        var error = Assert.Single((await node.Http.GetFromJsonAsync<List<JsonElement>>($"/api/batches/{batch.GetProperty("id").GetString()}/errors"))!);
        Assert.Equal((4L, "patient-9", reason), (error.GetProperty("line").GetInt64(), error.GetProperty("entityId").GetString(), error.GetProperty("reason").GetString()));
    }

    private sealed class NoopExecutor : IWorkItemExecutor
    {
        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

}

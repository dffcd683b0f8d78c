using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// A worker node with a data type whose items succeed, one whose items fail once and are
/// dead-lettered, and one that never gets items.
/// </summary>
public sealed class StatusApiFixture : SharedNodeFixture
{
    public string NodeId { get; } = $"status-{Guid.NewGuid():N}"[..20];

    public RecordingExecutor Failing { get; } = new() { Failing = true };

    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:NodeId"] = NodeId,
        ["DataTypes:counted:Executor"] = "noop",
        ["DataTypes:counted:Cadence:daily"] = "1.00:00:00",
        ["DataTypes:broken:Executor"] = "always-fails",
        ["DataTypes:broken:Retry:MaxRetryAttempts"] = "0",
        ["DataTypes:idle:Executor"] = "noop",
    };

    protected override Action<IServiceCollection> Services => s => s.AddExecutor("always-fails", Failing);
}

/// <summary><c>/api/health</c>, <c>/api/failures</c> and <c>/api/nodes</c>: what ops read, matching what actually ran.</summary>
[Trait("Provider", "Sqlite")]
public sealed class StatusApiTests(StatusApiFixture fixture) : IClassFixture<StatusApiFixture>
{
    /// <summary>The states DESIGN.md promises, spelled out rather than taken from the code under test.</summary>
    private static readonly string[] DesignStates =
        ["never_run", "in_flight", "completed", "retrying", "deferred", "dead_lettered", "expired", "paused"];

    private HttpClient Http => fixture.Node.Http;

    private async Task<JsonElement> GetJsonAsync(string uri)
    {
        using var response = await Http.GetAsync(uri);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {uri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await ApiResponses.JsonAsync(response);
    }

    private static JsonElement DataTypeEntry(JsonElement health, string dataType) =>
        health.GetProperty("dataTypes").EnumerateArray().Single(d => d.GetProperty("dataType").GetString() == dataType);

    /// <summary>Registers an item of <c>broken</c> and waits until its one attempt has dead-lettered it.</summary>
    private async Task<string> DeadLetterAsync()
    {
        var id = $"broken-{Guid.NewGuid():N}";
        await fixture.Node.PutAsync("broken", id, new { });
        await fixture.Node.WaitForStateAsync("broken", id, WorkItemStates.DeadLettered);
        return id;
    }

    private static JsonElement? FindFailure(JsonElement page, string entityId) =>
        page.GetProperty("items").EnumerateArray().Where(f => f.GetProperty("entityId").GetString() == entityId)
            .Select(f => (JsonElement?)f).SingleOrDefault();

    [Fact]
    public async Task Health_ThreeItemsExecuted_CountsMatchWhatRan()
    {
        foreach (var id in new[] { "c-1", "c-2", "c-3" })
            await fixture.Node.PutAsync("counted", id, new { tier = "daily" });
        foreach (var id in new[] { "c-1", "c-2", "c-3" })
            await fixture.Node.WaitForStateAsync("counted", id, WorkItemStates.Completed);

        var health = await GetJsonAsync("/api/health");

        var counted = DataTypeEntry(health, "counted");
        Assert.Equal(3, counted.GetProperty("total").GetInt64());
        Assert.Equal(DesignStates.Order(), counted.GetProperty("states").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(3, counted.GetProperty("states").GetProperty("completed").GetInt64());
        Assert.All(DesignStates.Where(s => s != "completed"), s => Assert.Equal(0, counted.GetProperty("states").GetProperty(s).GetInt64()));
        Assert.Equal(100, counted.GetProperty("completionPercent").GetDouble());
        Assert.Equal(3, health.GetProperty("tiers").GetProperty("daily").GetInt64());
        Assert.True(health.GetProperty("failures24h").GetInt64() >= 0);
        var inFlight = health.GetProperty("dataTypes").EnumerateArray().Sum(d => d.GetProperty("states").GetProperty("in_flight").GetInt64());
        Assert.Equal(inFlight, health.GetProperty("running").GetInt64());
        var self = health.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("nodeId").GetString() == fixture.NodeId);
        Assert.True(self.GetProperty("alive").GetBoolean());
    }

    [Fact]
    public async Task Health_DataTypeWithoutItems_IsListedWithZeroCounts()
    {
        var health = await GetJsonAsync("/api/health");

        var idle = DataTypeEntry(health, "idle");
        Assert.Equal(0, idle.GetProperty("total").GetInt64());
        Assert.Equal(0, idle.GetProperty("completionPercent").GetDouble());
        Assert.Equal(DesignStates.Order(), idle.GetProperty("states").EnumerateObject().Select(p => p.Name).Order());
        Assert.All(idle.GetProperty("states").EnumerateObject(), p => Assert.Equal(0, p.Value.GetInt64()));
        Assert.Equal(["broken", "counted", "idle"], health.GetProperty("dataTypes").EnumerateArray().Select(d => d.GetProperty("dataType").GetString()));
    }

    [Fact]
    public async Task Health_AfterAFailedAttempt_CountsItInFailures24hAndDeadLettered()
    {
        await DeadLetterAsync();

        var health = await GetJsonAsync("/api/health");

        Assert.True(health.GetProperty("failures24h").GetInt64() >= 1);
        Assert.True(DataTypeEntry(health, "broken").GetProperty("states").GetProperty("dead_lettered").GetInt64() >= 1);
    }

    [Fact]
    public async Task Failures_FailedAttempt_IsListedWithWhatFailedWhereAndWhen()
    {
        var id = await DeadLetterAsync();

        var page = await GetJsonAsync($"/api/failures?done=false&dataType=broken");

        var failure = FindFailure(page, id) ?? throw new Xunit.Sdk.XunitException($"no failure row for {id} in {page}");
        Assert.Equal("broken", failure.GetProperty("dataType").GetString());
        Assert.Equal(1, failure.GetProperty("attempt").GetInt32());
        Assert.Equal(fixture.NodeId, failure.GetProperty("nodeId").GetString());
        Assert.Contains(nameof(InvalidOperationException), failure.GetProperty("exceptionType").GetString());
        Assert.Contains("Recorded failure", failure.GetProperty("message").GetString());
        Assert.False(failure.GetProperty("done").GetBoolean());
        Assert.InRange(failure.GetProperty("failedAt").GetDateTimeOffset(),
            TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddMinutes(1));
    }

    [Fact]
    public async Task MarkDone_FailedAttempt_Returns204AndMovesItFromNotDoneToDone()
    {
        var id = await DeadLetterAsync();
        var failureId = FindFailure(await GetJsonAsync("/api/failures?done=false&dataType=broken&pageSize=1000"), id)!.Value.GetProperty("id").GetInt64();

        using var response = await Http.PostAsync($"/api/failures/{failureId}/done", null);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Null(FindFailure(await GetJsonAsync("/api/failures?done=false&dataType=broken&pageSize=1000"), id));
        var done = FindFailure(await GetJsonAsync("/api/failures?done=true&dataType=broken&pageSize=1000"), id)
            ?? throw new Xunit.Sdk.XunitException($"failure {failureId} should be listed under done=true");
        Assert.True(done.GetProperty("done").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, done.GetProperty("doneAt").ValueKind);
        Assert.NotNull(FindFailure(await GetJsonAsync("/api/failures?dataType=broken&pageSize=1000"), id)); // no filter: both
    }

    [Fact]
    public async Task MarkDone_UnknownId_Returns404NamingIt()
    {
        using var response = await Http.PostAsync("/api/failures/987654321/done", null);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("987654321", detail);
    }

    [Fact]
    public async Task Failures_UnknownDataType_Returns400NamingIt()
    {
        using var response = await Http.GetAsync("/api/failures?dataType=no-such-type");

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("no-such-type", detail);
    }

    [Theory]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=5000", "pageSize")]
    [InlineData("page=0", "page must")]
    public async Task Failures_PageOutOfRange_Returns400NamingTheParameter(string query, string named)
    {
        using var response = await Http.GetAsync($"/api/failures?{query}");

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.StartsWith(named, detail);
    }

    [Fact]
    public async Task Nodes_Get_ListsThisNodeAliveWithItsCheckin()
    {
        var nodes = await GetJsonAsync("/api/nodes");

        var self = nodes.EnumerateArray().Single(n => n.GetProperty("nodeId").GetString() == fixture.NodeId);
        Assert.True(self.GetProperty("alive").GetBoolean());
        Assert.InRange(self.GetProperty("lastCheckin").GetDateTimeOffset(),
            TimeProvider.System.GetUtcNow().AddMinutes(-1), TimeProvider.System.GetUtcNow().AddMinutes(1));
    }
}

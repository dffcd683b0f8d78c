using System.Net;
using System.Text;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Failures;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Admin;

/// <summary>A worker without <c>Admin:ApiKeys</c>: completed items to run or delete, and a dead-lettered item whose failure is not done.</summary>
public sealed class LoopbackAccessFixture : IAsyncLifetime
{
    public static readonly string[] Completed = ["idle", "run-ok", "victim", "json-ok"];

    private readonly SqliteTestDatabase _database = new();

    internal TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:t:Executor"] = "noop",
            ["DataTypes:broken:Executor"] = "always-fails",
            ["DataTypes:broken:Retry:MaxRetryAttempts"] = "0",
        }, services => services.AddExecutor("always-fails", new RecordingExecutor { Failing = true }));
        foreach (var id in Completed)
            await Node.PutAsync("t", id, new { });
        await Node.PutAsync("broken", "failed", new { });
        foreach (var id in Completed)
            await Node.WaitForStateAsync("t", id, WorkItemStates.Completed);
        await Node.WaitForStateAsync("broken", "failed", WorkItemStates.DeadLettered);
    }

    /// <summary>A client that sends only what each test adds: no <c>X-Requested-With</c>, as a browser's form or fetch.</summary>
    public HttpClient Bare() => new() { BaseAddress = Node.Http.BaseAddress };

    public async Task<long> FailuresNotDoneAsync() =>
        (await Node.App.Services.GetRequiredService<FailureStore>().ListAsync(false, "broken", null, 1, 100, CancellationToken.None)).Total;

    public async Task DisposeAsync()
    {
        if (Node is not null)
            await Node.DisposeAsync();
        _database.Dispose();
    }
}

/// <summary>
/// Without keys a loopback caller is admin only for requests a page on another origin cannot make:
/// what a browser sends for such a page (another <c>Origin</c>, <c>Sec-Fetch-Site</c>, a simple POST,
/// a rebound <c>Host</c>) is refused and changes nothing; scripts and the node's own page work.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class LoopbackAccessTests(LoopbackAccessFixture fixture) : IClassFixture<LoopbackAccessFixture>
{
    /// <summary>Origin, Sec-Fetch-Site and Content-Type of POSTs a page on another origin can send without a preflight.</summary>
    public static TheoryData<string?, string?, string?> CrossSiteOrSimple() => new()
    {
        { "http://evil.example", "cross-site", "text/plain" }, // a current browser's no-cors fetch or form
        { "http://evil.example", null, "text/plain" }, // a browser without Fetch metadata
        { "http://evil.example", null, "application/json" }, // a browser refused the preflight, yet the request came
        { "null", null, "application/x-www-form-urlencoded" }, // a sandboxed frame's form
        { "http://localhost:3000", "same-site", "multipart/form-data" }, // another local dev server
        { null, null, "text/plain; charset=utf-8" }, // no browser marks: simple and without the header
        { null, null, null }, // a POST with no body
    };

    private static HttpRequestMessage Post(string path, string? origin, string? fetchSite, string? contentType)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (origin is not null)
            request.Headers.TryAddWithoutValidation("Origin", origin);
        if (fetchSite is not null)
            request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", fetchSite);
        if (contentType is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes("{}"));
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return request;
    }

    private async Task<(string State, int Attempt, DateTimeOffset? NextRunAt, DateTimeOffset? UpdatesStart)> RunStateAsync(string entityId)
    {
        var item = await fixture.Node.ItemAsync("t", entityId) ?? throw new InvalidOperationException($"t/{entityId} is gone");
        return (item.State, item.Attempt, item.NextRunAt, item.UpdatesStart);
    }

    [Theory]
    [MemberData(nameof(CrossSiteOrSimple))]
    public async Task Run_CrossSiteOrSimplePostWithoutKeys_RefusedAndNotRun(string? origin, string? fetchSite, string? contentType)
    {
        var before = await RunStateAsync("idle");
        using var http = fixture.Bare();
        using var request = Post("/api/work-items/t/idle/run", origin, fetchSite, contentType);

        using var response = await http.SendAsync(request);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Forbidden);
        Assert.Contains("Admin:ApiKeys", detail);
        Assert.Equal(before, await RunStateAsync("idle"));
    }

    [Theory]
    [MemberData(nameof(CrossSiteOrSimple))]
    public async Task MarkAllDone_CrossSiteOrSimplePostWithoutKeys_RefusedAndMarksNothing(string? origin, string? fetchSite, string? contentType)
    {
        var notDone = await fixture.FailuresNotDoneAsync();
        using var http = fixture.Bare();
        using var request = Post("/api/failures/done", origin, fetchSite, contentType);

        using var response = await http.SendAsync(request);

        await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Forbidden);
        Assert.True(notDone > 0);
        Assert.Equal(notDone, await fixture.FailuresNotDoneAsync());
    }

    [Fact]
    public async Task Run_SimplePostWithoutHeader_DetailNamesTheHeader()
    {
        using var http = fixture.Bare();
        using var request = Post("/api/work-items/t/idle/run", null, null, null);

        using var response = await http.SendAsync(request);

        Assert.Contains("X-Requested-With", await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task Run_SameOriginWithHeader_IsServed()
    {
        using var http = fixture.Bare();
        using var request = Post("/api/work-items/t/run-ok/run", http.BaseAddress!.GetLeftPart(UriPartial.Authority), "same-origin", null);
        request.Headers.Add("X-Requested-With", "test");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task RegisterMany_JsonBodyWithoutHeader_IsServed()
    {
        using var http = fixture.Bare();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/work-items")
        {
            Content = new StringContent("""{"dataType":"t","items":[{"entityId":"from-a-script"}]}""", Encoding.UTF8, "application/json"),
        };

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(await fixture.Node.ItemAsync("t", "from-a-script"));
    }

    [Fact]
    public async Task Get_CurlLikeWithoutHeaderOrOrigin_IsServed()
    {
        using var http = fixture.Bare();

        using var response = await http.GetAsync("/api/work-items/t/idle");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Delete_ForeignHost_RefusedNamingHostAndSettingAndDeletesNothing()
    {
        using var http = fixture.Bare();
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/work-items/t/victim");
        request.Headers.Host = "evil.example";
        request.Headers.Add("X-Requested-With", "test");

        using var response = await http.SendAsync(request);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Forbidden);
        Assert.Contains("'evil.example'", detail);
        Assert.Contains("Admin:AllowedHosts", detail);
        Assert.NotNull(await fixture.Node.ItemAsync("t", "victim"));
    }

    /// <summary>A page whose own name was rebound to 127.0.0.1 reads with its name as Host: nothing to read.</summary>
    [Fact]
    public async Task Get_ForeignHostWithPort_Refused()
    {
        using var http = fixture.Bare();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.Host = $"evil.example:{http.BaseAddress!.Port}";

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("dashboard.localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    public async Task Get_LoopbackHostName_IsServed(string host)
    {
        using var http = fixture.Bare();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.Host = $"{host}:{http.BaseAddress!.Port}";

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

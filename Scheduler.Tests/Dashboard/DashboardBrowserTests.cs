using System.Net;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>
/// A worker node without API keys (the browser is on loopback, so it is admin) and chromium.
/// <c>prices</c> and <c>feeds</c> succeed; every <c>broken</c> item fails once with markup in its
/// message and is dead-lettered.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const string Markup = "<img src=x onerror=alert(1)>";
    public const string PayloadMarkup = "<script>alert(2)</script>";

    private readonly SqliteTestDatabase _database = new();

    internal TestNode Node { get; private set; } = null!;

    public ChromiumBrowser Chromium { get; private set; } = null!;

    public static IReadOnlyList<string> Prices { get; } = ["AAPL", "AMZN", "MSFT"];

    /// <summary>Dead-lettered items: one to mark its failure done, one to open.</summary>
    public static IReadOnlyList<string> Broken { get; } = ["bad-triage", "bad-markup"];

    private static RecordingExecutor Failing { get; } = new()
    {
        Throw = context => new InvalidOperationException($"Vendor answered {Markup} for {context.EntityId}"),
    };

    public async Task InitializeAsync()
    {
        // The browser first: without chromium there is nothing to test, and the message says why.
        Chromium = await ChromiumBrowser.LaunchAsync();
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:prices:Executor"] = "noop",
            ["DataTypes:feeds:Executor"] = "noop",
            ["DataTypes:broken:Executor"] = "html-failure",
            ["DataTypes:broken:Retry:MaxRetryAttempts"] = "0",
            // Not due before the next 08:00 in Berlin: it never runs during the tests.
            ["DataTypes:reminders:Executor"] = "noop",
            ["DataTypes:reminders:Cadence:daily"] = "cron:0 0 8 * * ?",
            ["DataTypes:reminders:TimeZone"] = "Europe/Berlin",
            ["DataTypes:reminders:QuietHours:0:From"] = "22:00",
            ["DataTypes:reminders:QuietHours:0:To"] = "07:00",
            // Issue 22: a limit to show, and a node pool that leaves reminders to no node (it never runs here anyway).
            ["DataTypes:prices:MaxConcurrency"] = "2",
            ["Cluster:DataTypes:0"] = "prices",
            ["Cluster:DataTypes:1"] = "feeds",
            ["Cluster:DataTypes:2"] = "broken",
        }, services => services.AddExecutor("html-failure", Failing));

        foreach (var id in Prices)
            await Node.PutAsync("prices", id, new { });
        await Node.PutAsync("feeds", "AAPL-feed", new { });
        await Node.PutAsync("reminders", "patient-1", new { });
        foreach (var id in Broken)
            await Node.PutAsync("broken", id, new { payload = new { note = PayloadMarkup } });
        foreach (var id in Prices)
            await Node.WaitForStateAsync("prices", id, WorkItemStates.Completed);
        foreach (var id in Broken)
            await Node.WaitForStateAsync("broken", id, WorkItemStates.DeadLettered);

        // The charts read what the nodes flush every 5 s; flush now rather than wait for it.
        var stats = Node.App.Services.GetRequiredService<MinuteStats>();
        await Eventually.TrueAsync(async () =>
        {
            await stats.FlushAsync(CancellationToken.None);
            using var response = await Node.Http.GetAsync("/api/stats/minutely?hours=1");
            var rows = await ApiResponses.JsonAsync(response);
            return rows.EnumerateArray().Sum(r => r.GetProperty("executions").GetInt32()) == Prices.Count + 1 + Broken.Count;
        }, TimeSpan.FromSeconds(10), "every attempt should be in the per-minute statistics");
    }

    /// <summary>GET <paramref name="uri"/> on the node, which must answer 200 with JSON.</summary>
    internal async Task<JsonElement> GetJsonAsync(string uri)
    {
        using var response = await Node.Http.GetAsync(uri);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {uri}: {(int)response.StatusCode}");
        return await ApiResponses.JsonAsync(response);
    }

    public async Task DisposeAsync()
    {
        if (Chromium is not null)
            await Chromium.DisposeAsync();
        if (Node is not null)
            await Node.DisposeAsync();
        _database.Dispose();
    }
}

/// <summary>The dashboard in a real browser against a real node: what ops see is what the node holds.</summary>
[Trait("Provider", "Sqlite")]
public sealed class DashboardBrowserTests(DashboardFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardFixture>
{
    [Fact]
    public async Task HealthPage_Loaded_ShowsTheNodesCounts()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync("/");

        var health = await fixture.GetJsonAsync("/api/health");
        await Expect(page.Locator("[data-metric=failures24h] strong")).ToHaveTextAsync(health.GetProperty("failures24h").GetInt64().ToString());
        await Expect(page.Locator("[data-metric=items] strong")).ToHaveTextAsync("7");
        await Expect(page.Locator("[data-metric=deadLettered] strong")).ToHaveTextAsync("2");
        var prices = page.Locator("tr[data-data-type=prices]");
        await Expect(prices.Locator("td").Nth(2)).ToHaveTextAsync("3");
        await Expect(prices.Locator("td[data-field=schedule]")).ToContainTextAsync("UTC");
        var reminders = page.Locator("tr[data-data-type=reminders] td[data-field=schedule]");
        await Expect(reminders).ToContainTextAsync("daily: cron:0 0 8 * * ?");
        await Expect(reminders.Locator("[data-field=timeZone]")).ToHaveTextAsync("Europe/Berlin");
        await Expect(reminders.Locator("[data-field=quietHours]")).ToContainTextAsync("quiet 22:00–07:00");
        await Expect(prices.Locator("td[data-state=completed]")).ToHaveTextAsync("3");
        await Expect(prices.Locator("td[data-field=completion]")).ToContainTextAsync("100.0 %");
        await Expect(page.Locator("tr[data-data-type=broken] td[data-state=dead_lettered]")).ToHaveTextAsync("2");
        // Issue 22: the live nodes of each data type, its limits, and the flag of one no live node runs.
        var nodeId = fixture.Node.App.Services.GetRequiredService<BatchScheduler.Configuration.NodeIdentity>().Id;
        await Expect(prices.Locator("td[data-field=serving] [data-field=nodes]")).ToHaveTextAsync(nodeId);
        await Expect(prices.Locator("td[data-field=serving] [data-field=limits]")).ToContainTextAsync("at most 2 at once");
        await Expect(page.Locator("tr[data-data-type=reminders] td[data-field=serving] [data-field=unserved]")).ToHaveTextAsync("no live node runs it");
        await Expect(page.Locator("tr[data-data-type=feeds] td[data-field=serving] [data-field=unserved]")).ToHaveCountAsync(0);
        await Expect(page.Locator("figure[data-chart] canvas")).ToHaveCountAsync(4);
        // What each chart drew, per line: the sum of its points.
        var drawn = await page.WaitForFunctionAsync(
            """
            () => {
                const sums = id => Object.fromEntries(Chart.getChart(document.querySelector(`figure[data-chart=${id}] canvas`))
                    .data.datasets.map(d => [d.label, d.data.reduce((s, p) => s + (p.y ?? 0), 0)]));
                const executions = sums('executions');
                return executions.prices === 3 && { executions, failures: sums('failures') };
            }
            """);
        var charts = await drawn.JsonValueAsync<JsonElement>();
        Assert.Equal(1, charts.GetProperty("executions").GetProperty("feeds").GetInt32());
        Assert.Equal(2, charts.GetProperty("failures").GetProperty("broken").GetInt32());
        Assert.Equal(0, charts.GetProperty("failures").GetProperty("prices").GetInt32());
        await tab.ScreenshotAsync("01-health");
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task HealthPage_PauseAndResumeADataType_AsksWhy_ShowsTheBadge()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        tab.AnswerPrompts("vendor outage");
        await page.GotoAsync("/");
        var feeds = page.Locator("tr[data-data-type=feeds]");

        await feeds.Locator("button[data-action=pause]").ClickAsync();

        await Expect(feeds.Locator("[data-field=paused]")).ToHaveTextAsync("paused");
        await Expect(feeds.Locator("[data-field=paused]")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("by loopback .*: vendor outage$"));
        Assert.Contains("Why?", Assert.Single(tab.Prompts), StringComparison.Ordinal);
        var paused = (await fixture.GetJsonAsync("/api/data-types")).EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == "feeds");
        Assert.Equal("vendor outage", paused.GetProperty("pausedReason").GetString());
        await tab.ScreenshotAsync("01b-health-data-type-paused");

        await feeds.Locator("button[data-action=resume]").ClickAsync();

        await Expect(feeds.Locator("[data-field=paused]")).ToHaveCountAsync(0);
        Assert.False((await fixture.GetJsonAsync("/api/data-types")).EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == "feeds").GetProperty("paused").GetBoolean());
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task ItemPage_NextRun_IsShownInTheDataTypesZoneAndUtc()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        var item = await fixture.GetJsonAsync("/api/work-items/reminders/patient-1");
        var next = item.GetProperty("nextRunAt").GetDateTimeOffset();
        var berlin = TimeZoneInfo.ConvertTime(next, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));

        await page.GotoAsync("/#/items/reminders/patient-1");

        Assert.Equal((8, 0), (berlin.Hour, berlin.Minute));
        await Expect(page.Locator("[data-field=nextRunAt]")).ToHaveTextAsync(
            $"{berlin:yyyy-MM-dd HH:mm:ss} Europe/Berlin · {next.UtcDateTime:HH:mm:ss} UTC");
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task FailuresPage_MarkDone_MarksTheFailureDone()
    {
        var entityId = DashboardFixture.Broken[0];
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync("/#/failures");
        var row = page.Locator("tbody tr[data-failure-id]").Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = entityId, Exact = true }) });
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row).ToContainTextAsync(DashboardFixture.Markup);
        var failureId = await row.GetAttributeAsync("data-failure-id");
        await tab.ScreenshotAsync("02-failures-not-done");
        await row.GetByRole(AriaRole.Button, new() { Name = "Mark done" }).ClickAsync();

        await Expect(page.Locator(".flash")).ToHaveTextAsync($"Failure {failureId} marked done.");
        await Expect(page.Locator($"tbody tr[data-failure-id='{failureId}']")).ToHaveCountAsync(0);
        await tab.ScreenshotAsync("03-failures-marked-done");
        var done = await fixture.GetJsonAsync($"/api/failures?done=true&dataType=broken&entityId={entityId}");
        Assert.Contains(done.GetProperty("items").EnumerateArray(), f => f.GetProperty("id").GetInt64().ToString() == failureId && f.GetProperty("done").GetBoolean());
        Assert.Equal(0, await page.Locator("main img").CountAsync());
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task WorkItemsPage_FilterByDataTypeAndEntity_ShowsOnlyMatchingItems()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        var rows = page.Locator("tbody tr[data-entity-id]");

        await page.GotoAsync("/#/items");
        await Expect(rows).ToHaveCountAsync(7);
        await page.Locator("select[name=dataType]").SelectOptionAsync("prices");
        await Expect(rows).ToHaveCountAsync(3);
        await page.Locator("input[name=q]").FillAsync("A");
        await page.Locator("input[name=q]").PressAsync("Enter");

        await Expect(rows).ToHaveCountAsync(2);
        var shown = await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.dataType + '/' + r.dataset.entityId)");
        Assert.Equal(["prices/AAPL", "prices/AMZN"], shown);
        Assert.Contains("dataType=prices", page.Url, StringComparison.Ordinal);
        Assert.Contains("q=A", page.Url, StringComparison.Ordinal);
        await tab.ScreenshotAsync("04-work-items-filtered");
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task WorkItemsPage_ActOnAllMatching_ConfirmsTheCountAndAction_ThenShowsTheOutcome()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        tab.AnswerPrompts("bulk test");
        await page.GotoAsync("/#/items?dataType=feeds");
        var message = page.Locator("[data-field=bulk]");

        await page.Locator("select[name=bulkAction]").SelectOptionAsync("pause");
        await page.Locator("button[data-action=bulk]").ClickAsync();

        await Expect(message).ToHaveTextAsync("Paused 1 of 1 matching items (0 skipped, 0 not applied).");
        Assert.Contains("pause: all 1 matching items (dataType feeds)", Assert.Single(tab.Prompts), StringComparison.Ordinal);
        var paused = await fixture.GetJsonAsync("/api/work-items/feeds/AAPL-feed");
        Assert.Equal(("paused", "bulk test"), (paused.GetProperty("state").GetString(), paused.GetProperty("paused").GetProperty("reason").GetString()));
        await tab.ScreenshotAsync("04b-work-items-bulk-pause");

        await page.Locator("select[name=bulkAction]").SelectOptionAsync("resume");
        await page.Locator("button[data-action=bulk]").ClickAsync();

        await Expect(message).ToHaveTextAsync("Resumed 1 of 1 matching items (0 skipped, 0 not applied).");
        Assert.Equal("completed", (await fixture.GetJsonAsync("/api/work-items/feeds/AAPL-feed")).GetProperty("state").GetString());
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task ItemPage_LastErrorAndPayloadWithMarkup_AreShownAsText()
    {
        var entityId = DashboardFixture.Broken[1];
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync($"/#/items/broken/{Uri.EscapeDataString(entityId)}");

        var lastError = page.Locator("[data-field=lastError]");
        await Expect(lastError).ToContainTextAsync(DashboardFixture.Markup);
        await Expect(page.Locator("[data-field=payload]")).ToContainTextAsync(DashboardFixture.PayloadMarkup);
        await Expect(page.Locator("[data-field=state]")).ToHaveTextAsync(WorkItemStates.DeadLettered);
        await Expect(page.Locator("main table")).ToContainTextAsync(DashboardFixture.Markup);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Retry" })).ToBeVisibleAsync();
        Assert.Equal(0, await lastError.EvaluateAsync<int>("e => e.childElementCount"));
        Assert.Equal(0, await page.Locator("main img, main script").CountAsync());
        await tab.ScreenshotAsync("05-item-page-markup-as-text");
        tab.AssertNoProblems();
    }
}

using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>A node without API keys, one completed one-shot item, and chromium.</summary>
public sealed class DashboardLoopbackFixture : IAsyncLifetime
{
    public const string EntityId = "run-me-again";

    private readonly SqliteTestDatabase _database = new();

    internal TestNode Node { get; private set; } = null!;

    public ChromiumBrowser Chromium { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Chromium = await ChromiumBrowser.LaunchAsync();
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:once:Executor"] = "noop",
            ["DataTypes:hung:Executor"] = "hung",
        }, services => services.AddExecutor("hung", new HungExecutor()));
        await Node.PutAsync("once", EntityId, new { });
        await Node.WaitForStateAsync("once", EntityId, WorkItemStates.Completed);
    }

    /// <summary>Runs until its token is cancelled, as a call to a vendor that never answers.</summary>
    private sealed class HungExecutor : IWorkItemExecutor
    {
        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken) =>
            await Task.Delay(Timeout.Infinite, cancellationToken);
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

/// <summary>
/// Without keys the node trusts a loopback change only when a page on another origin could not
/// have sent it; the dashboard's own changes (same origin, with <c>X-Requested-With</c>) still work.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class DashboardLoopbackBrowserTests(DashboardLoopbackFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardLoopbackFixture>
{
    [Fact]
    public async Task ItemPage_RunNowWithoutKeys_RunsTheItemAgain()
    {
        var before = await fixture.Node.ItemAsync("once", DashboardLoopbackFixture.EntityId);
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync($"/#/items/once/{DashboardLoopbackFixture.EntityId}");
        await Expect(page.Locator("[data-field=state]")).ToContainTextAsync("completed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run now" }).ClickAsync();

        await Expect(page.Locator(".flash")).ToContainTextAsync("Run now: scheduled to run at");
        await Eventually.TrueAsync(async () =>
        {
            var item = await fixture.Node.ItemAsync("once", DashboardLoopbackFixture.EntityId);
            return item!.State == WorkItemStates.Completed && item.UpdatesStart > before!.UpdatesStart;
        }, TimeSpan.FromSeconds(30), "the item should have run again after Run now");
        await tab.ScreenshotAsync("08-loopback-run-now");
        tab.AssertNoProblems();
    }

    /// <summary>Issue 22: an item that runs shows Cancel…; it asks why, and the item ends paused, cancelled by loopback.</summary>
    [Fact]
    public async Task ItemPage_CancelARunningItem_AsksWhy_ItemEndsPaused()
    {
        await fixture.Node.PutAsync("hung", "vendor-call", new { });
        await fixture.Node.WaitForStateAsync("hung", "vendor-call", WorkItemStates.InFlight);
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        tab.AnswerPrompts("vendor never answers");

        await page.GotoAsync("/#/items/hung/vendor-call");
        await page.Locator("button[data-action=cancel]").ClickAsync();

        await Expect(page.Locator(".flash")).ToContainTextAsync("Cancel sent");
        Assert.Contains("Why?", Assert.Single(tab.Prompts), StringComparison.Ordinal);
        var item = await fixture.Node.WaitForStateAsync("hung", "vendor-call", WorkItemStates.Paused);
        Assert.Equal(0, item.Attempt); // not counted
        await page.ReloadAsync();
        await Expect(page.Locator("[data-field=paused]")).ToContainTextAsync("Cancelled by loopback: vendor never answers");
        await Expect(page.Locator("button[data-action=cancel]")).ToHaveCountAsync(0);
        tab.AssertNoProblems();
    }
}

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

    public TestNode Node { get; private set; } = null!;

    public ChromiumBrowser Chromium { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Chromium = await ChromiumBrowser.LaunchAsync();
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:once:Executor"] = "noop",
        });
        await Node.PutAsync("once", EntityId, new { });
        await Node.WaitForStateAsync("once", EntityId, WorkItemStates.Completed);
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
}

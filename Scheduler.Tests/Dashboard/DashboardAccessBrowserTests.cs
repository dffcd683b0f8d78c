using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>A node with an admin and a viewer key, two dead-lettered items (one per test) with their failures, and chromium.</summary>
public sealed class DashboardAccessFixture : IAsyncLifetime
{
    public const string AdminKey = "dashboard-admin-key";
    public const string ViewerKey = "dashboard-viewer-key";
    public const string EntityId = "needs-triage";
    public const string BulkEntityId = "bulk-triage";

    private readonly SqliteTestDatabase _database = new();

    internal TestNode Node { get; private set; } = null!;

    public ChromiumBrowser Chromium { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Chromium = await ChromiumBrowser.LaunchAsync();
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["Admin:ApiKeys:0:Key"] = AdminKey,
            ["Admin:ApiKeys:0:Role"] = "admin",
            ["Admin:ApiKeys:1:Key"] = ViewerKey,
            ["Admin:ApiKeys:1:Role"] = "viewer",
            ["DataTypes:broken:Executor"] = "always-fails",
            ["DataTypes:broken:Retry:MaxRetryAttempts"] = "0",
        }, services => services.AddExecutor("always-fails", new RecordingExecutor { Failing = true }));
        Node.Http.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
        foreach (var id in new[] { EntityId, BulkEntityId })
        {
            await Node.PutAsync("broken", id, new { });
            await Node.WaitForStateAsync("broken", id, WorkItemStates.DeadLettered);
        }
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

/// <summary>With keys configured the dashboard asks for one, and a viewer key reads but cannot change.</summary>
[Trait("Provider", "Sqlite")]
public sealed class DashboardAccessBrowserTests(DashboardAccessFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardAccessFixture>
{
    [Fact]
    public async Task Dashboard_ViewerKey_AsksForTheKeyThenHidesChanges()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        var keyForm = page.Locator("#key-form");

        await page.GotoAsync("/");
        await Expect(keyForm).ToBeVisibleAsync();
        await tab.ScreenshotAsync("06-access-key-asked");
        await page.Locator("#key-input").FillAsync("not-a-key");
        await page.Locator("#key-input").PressAsync("Enter");
        await Expect(page.Locator("#key-error")).ToHaveTextAsync("The API key is not valid.");
        await page.Locator("#key-input").FillAsync(DashboardAccessFixture.ViewerKey);
        await page.Locator("#key-input").PressAsync("Enter");
        await Expect(keyForm).ToBeHiddenAsync();
        await Expect(page.Locator("[data-metric=deadLettered] strong")).ToHaveTextAsync("2");

        // The node says the key is a viewer's (GET /api/access): change buttons are hidden before any is tried.
        await page.GotoAsync($"/#/failures?entityId={DashboardAccessFixture.EntityId}");
        await Expect(page.Locator("tbody tr[data-failure-id]")).ToHaveCountAsync(1);
        await Expect(page.Locator("#notice")).ToContainTextAsync("viewer role");
        var markDone = page.GetByRole(AriaRole.Button, new() { Name = "Mark done" });
        await Expect(markDone).ToBeHiddenAsync();
        await Expect(page.Locator("button.admin-action").Filter(new() { Visible = true })).ToHaveCountAsync(0);
        await tab.ScreenshotAsync("07-access-viewer-read-only");
        var failures = await fixture.Node.Http.GetFromJsonAsync<FailureList>($"/api/failures?done=false&entityId={DashboardAccessFixture.EntityId}");
        Assert.Single(failures!.Items);

        // The key lasts for the tab: a reload neither asks again nor forgets it is read-only.
        await page.ReloadAsync();
        await Expect(page.Locator("tbody tr[data-failure-id]")).ToHaveCountAsync(1);
        await Expect(keyForm).ToBeHiddenAsync();
        await Expect(page.Locator("#notice")).ToContainTextAsync("viewer role");

        // Nor does a viewer get "Act on all matching…" on the work items (the route answers 403 too).
        await page.GotoAsync("/#/items");
        await Expect(page.Locator("tbody tr[data-entity-id]").First).ToBeVisibleAsync();
        await Expect(page.Locator("button[data-action=bulk]")).ToBeHiddenAsync();
        await Expect(page.Locator("select[name=bulkAction]")).ToBeHiddenAsync();
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task Dashboard_AdminKey_MarksAllMatchingFailuresDone()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync($"/#/failures?dataType=broken&entityId={DashboardAccessFixture.BulkEntityId}");
        await page.Locator("#key-input").FillAsync(DashboardAccessFixture.AdminKey);
        await page.Locator("#key-input").PressAsync("Enter");
        await page.GetByRole(AriaRole.Button, new() { Name = "Mark all 1 matching done" }).ClickAsync();

        await Expect(page.Locator(".flash")).ToHaveTextAsync("Marked 1 failures done.");
        await Expect(page.Locator("tbody tr[data-failure-id]")).ToHaveCountAsync(0);
        var failures = await fixture.Node.Http.GetFromJsonAsync<FailureList>($"/api/failures?done=false&entityId={DashboardAccessFixture.BulkEntityId}");
        Assert.Empty(failures!.Items);
        tab.AssertNoProblems();
    }

    private sealed record FailureList(List<object> Items);
}

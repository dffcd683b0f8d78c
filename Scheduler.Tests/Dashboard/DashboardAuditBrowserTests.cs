using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>
/// The Audit view (<c>#/audit</c>) lists the node's audit trail: a change made over the API shows as
/// its newest row with who (<c>loopback</c> on a node without keys), action and target; the who
/// filter and the cursor pages work from the page.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class DashboardAuditBrowserTests(DashboardLoopbackFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardLoopbackFixture>
{
    private const string ItemAction = "PUT /api/work-items/{dataType}/{entityId}";

    [Fact]
    public async Task AuditView_AfterAChange_ShowsItAsTheNewestRowWithWhoActionAndTarget()
    {
        await fixture.Node.PutAsync("once", "audited-put", new { });
        using (var pause = await fixture.Node.Http.PostAsJsonAsync("/api/data-types/once/pause", new { reason = "audit view test" }))
            pause.EnsureSuccessStatusCode();
        using (var resume = new HttpRequestMessage(HttpMethod.Post, "/api/data-types/once/resume"))
        {
            resume.Headers.Add("X-Requested-With", "test"); // a loopback POST without a JSON body needs it
            using var resumed = await fixture.Node.Http.SendAsync(resume);
            resumed.EnsureSuccessStatusCode();
        }
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;

        await page.GotoAsync("/#/audit");
        await Expect(page.Locator("#nav a.active")).ToHaveTextAsync("Audit");
        var rows = page.Locator("tr[data-audit-id]");
        // Newest first: resume, pause, then the PUT (and the fixture's own PUT before them).
        await Expect(rows.Nth(0)).ToContainTextAsync("POST /api/data-types/{dataType}/resume");
        await Expect(rows.Nth(1)).ToContainTextAsync("POST /api/data-types/{dataType}/pause");
        var put = rows.Nth(2);
        await Expect(put.Locator("td").Nth(1)).ToHaveTextAsync("loopback");
        await Expect(put.Locator("td").Nth(2)).ToHaveTextAsync(ItemAction);
        await Expect(put.Locator("td").Nth(3)).ToHaveTextAsync("once/audited-put");
        await Expect(put.Locator("td").Nth(5)).ToHaveTextAsync("200");
        await Expect(put.GetByRole(AriaRole.Link, new() { Name = "audited-put" })).ToHaveAttributeAsync("href", "#/items/once/audited-put");
        await tab.ScreenshotAsync("09-audit-newest-first");

        // Who filters exactly; a name no one has matches nothing.
        await page.Locator("input[name=who]").FillAsync("ops-nobody");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply" }).ClickAsync();
        await Expect(page.Locator("tr.empty")).ToHaveTextAsync("No audit rows match.");
        await Expect(page).ToHaveURLAsync(new Regex("#/audit\\?who=ops-nobody$"));
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task AuditView_SmallPages_NextFollowsTheCursorToOlderRows()
    {
        await fixture.Node.PutAsync("once", "paged-older", new { });
        await fixture.Node.PutAsync("once", "paged-newer", new { });
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        var action = Uri.EscapeDataString(ItemAction);

        await page.GotoAsync($"/#/audit?who=loopback&action={action}&limit=1");
        var rows = page.Locator("tr[data-audit-id]");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows.First).ToContainTextAsync("once/paged-newer");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next →" }).ClickAsync();
        await Expect(rows.First).ToContainTextAsync("once/paged-older");
        await Expect(page.Locator(".pager")).ToContainTextAsync("rows 2–2, more follow");
        await page.GetByRole(AriaRole.Button, new() { Name = "← Previous" }).ClickAsync();
        await Expect(rows.First).ToContainTextAsync("once/paged-newer");
        tab.AssertNoProblems();
    }
}

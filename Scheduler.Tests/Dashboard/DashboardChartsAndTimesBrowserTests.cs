using System.Collections.Specialized;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Web;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>
/// Issue 24: the health page's charts span the range picked (1, 6 or 24 h, kept in the address),
/// and every time the dashboard shows names its zone; a browser in Berlin is expected to show what
/// .NET's <see cref="TimeZoneInfo"/> says the time there is.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class DashboardChartsAndTimesBrowserTests(DashboardFixture fixture, ITestOutputHelper output) : IClassFixture<DashboardFixture>
{
    private const string Berlin = "Europe/Berlin";
    private static readonly TimeZoneInfo BerlinZone = TimeZoneInfo.FindSystemTimeZoneById(Berlin);

    /// <summary>True once the executions chart's x axis spans <c>h</c> hours.</summary>
    private const string ChartSpans =
        "h => { const c = Chart.getChart(document.querySelector('figure[data-chart=executions] canvas')); return !!c && c.scales.x.max - c.scales.x.min === h * 3600000; }";

    private static NameValueCollection Query(IRequest request) => HttpUtility.ParseQueryString(new Uri(request.Url).Query);

    private static bool AsksForMinutes(IRequest request, string hours) =>
        request.Url.Contains("/api/stats/minutely", StringComparison.Ordinal) && Query(request)["hours"] == hours;

    private static ILocator Range(IPage page, string name) => page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    /// <summary>
    /// The short name Chromium's Intl gives a zone in en-US at that instant: "GMT+1" (Berlin in winter),
    /// "GMT+2" (in summer); en-US has no abbreviation of its own for Central European time.
    /// </summary>
    private static string ZoneName(DateTimeOffset at)
    {
        var offset = BerlinZone.GetUtcOffset(at);
        if (offset == TimeSpan.Zero)
            return "GMT";
        var minutes = offset.Minutes == 0 ? "" : $":{Math.Abs(offset.Minutes):00}";
        return $"GMT{(offset < TimeSpan.Zero ? '-' : '+')}{Math.Abs(offset.Hours)}{minutes}";
    }

    /// <summary>"2026-12-07 19:04:05 GMT+1": how the page should show <paramref name="at"/> in Berlin.</summary>
    private static string InBerlin(DateTimeOffset at, string format = "yyyy-MM-dd HH:mm:ss") =>
        $"{TimeZoneInfo.ConvertTime(at, BerlinZone).ToString(format, CultureInfo.InvariantCulture)} {ZoneName(at)}";

    [Fact]
    public async Task HealthPage_RangePicker_AsksForTheHoursPicked_AndKeepsThemAcrossAReload()
    {
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output);
        var page = tab.Page;
        var title = page.Locator(".section-head h2");

        // The default: the last hour, where the fixture's few minutes of executions are visible.
        await page.RunAndWaitForRequestAsync(() => page.GotoAsync("/"), r => AsksForMinutes(r, "1"));
        await Expect(title).ToHaveTextAsync("Last hour, per minute");
        await Expect(Range(page, "1 h")).ToHaveAttributeAsync("aria-pressed", "true");
        await page.WaitForFunctionAsync(ChartSpans, 1);
        await page.WaitForFunctionAsync(
            "() => Chart.getChart(document.querySelector('figure[data-chart=executions] canvas')).data.datasets.find(d => d.label === 'prices')?.data.reduce((s, p) => s + p.y, 0) === 3");

        await page.RunAndWaitForRequestAsync(() => Range(page, "6 h").ClickAsync(), r => AsksForMinutes(r, "6"));

        await Expect(title).ToHaveTextAsync("Last 6 hours, per minute");
        await Expect(page).ToHaveURLAsync(new Regex("[?&]hours=6$"));
        await Expect(Range(page, "6 h")).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(Range(page, "1 h")).ToHaveAttributeAsync("aria-pressed", "false");
        await page.WaitForFunctionAsync(ChartSpans, 6);
        await tab.ScreenshotAsync("01c-health-charts-6h");

        await page.RunAndWaitForRequestAsync(() => page.ReloadAsync(), r => AsksForMinutes(r, "6"));

        await Expect(title).ToHaveTextAsync("Last 6 hours, per minute");
        await Expect(Range(page, "6 h")).ToHaveAttributeAsync("aria-pressed", "true");
        await page.WaitForFunctionAsync(ChartSpans, 6);

        // The data type switch keeps the range, and picking a range keeps the data type.
        var prices = await page.RunAndWaitForRequestAsync(
            () => page.GetByLabel("Data type for the charts").SelectOptionAsync("prices"), r => AsksForMinutes(r, "6"));
        Assert.Equal("prices", Query(prices)["dataType"]);
        await Expect(page).ToHaveURLAsync(new Regex("[?&]chart=prices&hours=6$"));
        var day = await page.RunAndWaitForRequestAsync(() => Range(page, "24 h").ClickAsync(), r => AsksForMinutes(r, "24"));
        Assert.Equal("prices", Query(day)["dataType"]);
        await Expect(title).ToHaveTextAsync("Last 24 hours, per minute");
        await page.WaitForFunctionAsync(ChartSpans, 24);
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task Pages_InABrowserInBerlin_NameTheZoneOfEveryTime()
    {
        var failure = (await fixture.GetJsonAsync("/api/failures?dataType=broken&pageSize=1")).GetProperty("items")[0];
        var failedAt = failure.GetProperty("failedAt").GetDateTimeOffset();
        var started = (await fixture.GetJsonAsync("/api/work-items/prices/AAPL")).GetProperty("updatesStart").GetDateTimeOffset();
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output, Berlin);
        var page = tab.Page;

        await page.GotoAsync("/#/failures?dataType=broken");

        var cell = page.Locator($"tr[data-failure-id='{failure.GetProperty("id").GetInt64()}'] time");
        await Expect(cell).ToHaveTextAsync(InBerlin(failedAt));
        await Expect(cell).ToHaveAttributeAsync("title", new Regex($" ago · {Regex.Escape(Berlin)}$"));
        await Expect(page.Locator("#refresh-status")).ToHaveTextAsync(new Regex(@"^Updated \d\d:\d\d:\d\d GMT[+-]\d"));

        await page.GotoAsync("/#/items/prices/AAPL");

        await Expect(page.Locator("[data-field=updatesStart] time")).ToHaveTextAsync(InBerlin(started));

        await page.GotoAsync("/");

        // The charts' axis names the zone of its labels, and a point's tooltip its time with the zone.
        var now = TimeProvider.System.GetUtcNow();
        await page.WaitForFunctionAsync(
            "z => Chart.getChart(document.querySelector('figure[data-chart=executions] canvas'))?.options.scales.x.title.text === `Time (${z})`", ZoneName(now));
        var tooltip = await page.EvaluateAsync<string>(
            "ms => Chart.getChart(document.querySelector('figure[data-chart=executions] canvas')).options.plugins.tooltip.callbacks.title([{ parsed: { x: ms } }])",
            failedAt.ToUnixTimeMilliseconds());
        Assert.Equal(InBerlin(failedAt, "HH:mm"), tooltip);
        await tab.ScreenshotAsync("01d-health-in-berlin");
        tab.AssertNoProblems();
    }

    [Fact]
    public async Task HealthPage_CountsReadEarlier_SaysWhenTheyWereRead()
    {
        Assert.Equal(JsonValueKind.String, (await fixture.GetJsonAsync("/api/health")).GetProperty("countedAt").ValueKind);
        // As a large store answers: counts read 42 s ago (whole seconds, as the page shows them).
        var now = TimeProvider.System.GetUtcNow();
        var countedAt = now.AddSeconds(-42).AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
        var iso = countedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await using var tab = await fixture.Chromium.OpenAsync(fixture.Node.Http.BaseAddress!, output, Berlin);
        var page = tab.Page;
        await page.RouteAsync("**/api/health", async route =>
        {
            var response = await route.FetchAsync();
            var body = JsonNode.Parse(await response.TextAsync())!.AsObject();
            body["countedAt"] = iso;
            await route.FulfillAsync(new() { Response = response, Body = body.ToJsonString() });
        });

        await page.GotoAsync("/");

        var shown = page.Locator("[data-field=countedAt]");
        await Expect(shown).ToContainTextAsync($"Item counts as of {InBerlin(countedAt, "HH:mm:ss")} (");
        await Expect(shown).ToContainTextAsync(new Regex(@"\(\d+ (s|min) ago\)$"));
        await Expect(shown.Locator("time")).ToHaveAttributeAsync("datetime", iso);
        tab.AssertNoProblems();
    }
}

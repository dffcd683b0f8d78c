using System.Net;
using System.Text.RegularExpressions;
using BatchScheduler.Dashboard;
using BatchScheduler.Tests.Api;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>An API-only node with keys: the dashboard's files must still be served without one.</summary>
public sealed class DashboardEndpointsFixture : SharedNodeFixture
{
    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["Admin:ApiKeys:0:Key"] = "some-key",
        ["Admin:ApiKeys:0:Role"] = "admin",
        ["DataTypes:t:Executor"] = "noop",
    };
}

/// <summary><c>/</c> and <c>/dashboard/…</c>: the embedded files, their content types and caching.</summary>
[Trait("Provider", "Sqlite")]
public sealed partial class DashboardEndpointsTests(DashboardEndpointsFixture fixture) : IClassFixture<DashboardEndpointsFixture>
{
    private HttpClient Http => fixture.Node.Http;

    [Fact]
    public async Task Root_WithoutKey_ServesThePageWithAContentSecurityPolicy()
    {
        using var response = await Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.True(response.Headers.CacheControl?.NoCache, "the page is revalidated on every load");
        Assert.NotNull(response.Headers.ETag);
    }

    [Theory]
    [InlineData("/dashboard/app.js", "text/javascript")]
    [InlineData("/dashboard/views/health.js", "text/javascript")]
    [InlineData("/dashboard/dashboard.css", "text/css")]
    [InlineData("/dashboard/vendor/chart.js-4.6.1/chart.umd.min.js", "text/javascript")]
    public async Task Asset_WithoutKey_IsServedWithItsContentType(string path, string contentType)
    {
        using var response = await Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task VendoredChartJs_IsCachedForAYear()
    {
        using var response = await Http.GetAsync("/dashboard/vendor/chart.js-4.6.1/chart.umd.min.js");

        Assert.Equal(TimeSpan.FromDays(365), response.Headers.CacheControl?.MaxAge);
        Assert.StartsWith("/*!\n * Chart.js v4.6.1", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asset_IfNoneMatchItsETag_Returns304()
    {
        using var first = await Http.GetAsync("/dashboard/app.js");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/app.js");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);

        using var second = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
    }

    [Fact]
    public async Task Asset_Unknown_Returns404()
    {
        using var response = await Http.GetAsync("/dashboard/no-such-file.js");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void Assets_EveryScriptImport_IsEmbedded()
    {
        var assets = DashboardAssets.Load();
        var paths = assets.Paths.ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var path in paths.Where(p => p.EndsWith(".js", StringComparison.Ordinal) && !p.StartsWith("vendor/", StringComparison.Ordinal)))
        {
            assets.TryGet(path, out var asset);
            var folder = new Uri(new Uri("http://x/"), path);
            foreach (Match import in ImportPattern().Matches(System.Text.Encoding.UTF8.GetString(asset.Content)))
            {
                var target = new Uri(folder, import.Groups[1].Value).AbsolutePath.TrimStart('/');
                if (!paths.Contains(target))
                    missing.Add($"{path} imports {target}");
            }
        }

        Assert.Contains("views/item.js", paths);
        Assert.Empty(missing);
    }

    [GeneratedRegex(@"from '(\.{1,2}/[^']+)'")]
    private static partial Regex ImportPattern();
}

using System.Net.Http.Json;
using System.Net;
using System.Text;
using BatchScheduler.Admin;
using BatchScheduler.Api;
using BatchScheduler.Configuration;
using BatchScheduler.Tests.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace BatchScheduler.Tests.Admin;

/// <summary>Every <c>/api</c> route and the OpenAPI document, and whether each reads or changes things.</summary>
public static class ApiRoutes
{
    public sealed record Route(string Method, string Path, string? Body, bool Writes, string ContentType = "application/json")
    {
        public override string ToString() => $"{Method} {Path}";
    }

    private static readonly Route[] All =
    [
        new("GET", "/api/work-items", null, Writes: false),
        new("POST", "/api/work-items", """{"dataType":"t","items":[{"entityId":"auth-bulk"}]}""", Writes: true),
        new("GET", "/api/work-items/t/auth-1", null, Writes: false),
        new("PUT", "/api/work-items/t/auth-1", "{}", Writes: true),
        new("POST", "/api/work-items/t/auth-1/run", null, Writes: true),
        new("POST", "/api/work-items/t/auth-1/cancel", null, Writes: true),
        new("DELETE", "/api/work-items/t/auth-gone", null, Writes: true),
        new("GET", "/api/health", null, Writes: false),
        new("GET", "/api/nodes", null, Writes: false),
        new("GET", "/api/vendors", null, Writes: false),
        new("GET", "/api/failures", null, Writes: false),
        new("POST", "/api/failures/1/done", null, Writes: true),
        new("POST", "/api/failures/done?dataType=t", null, Writes: true),
        new("POST", "/api/batches?dataType=t", "{\"entityId\":\"auth-batch\"}\n", Writes: true, ContentType: "application/x-ndjson"),
        new("GET", "/api/batches", null, Writes: false),
        new("GET", "/api/stats/minutely", null, Writes: false),
        new("GET", "/api/access", null, Writes: false),
        new("GET", "/api/batches/auth-none", null, Writes: false),
        new("GET", "/api/batches/auth-none/results", null, Writes: false),
        new("GET", "/api/batches/auth-none/errors", null, Writes: false),
        new("GET", "/api/batches/auth-none/audit", null, Writes: false),
        new("POST", "/api/batches/auth-none/cancel", null, Writes: true),
        new("POST", "/api/work-items/actions", """{"action":"pause","filter":{"dataType":"t","entityPrefix":"auth-none"},"reason":"auth"}""", Writes: true),
        new("GET", "/api/work-items/actions/matching?dataType=t", null, Writes: false),
        new("GET", "/api/work-items/actions/auth-none", null, Writes: false),
        new("GET", "/openapi/v1.json", null, Writes: false),
    ];

    public static Route Find(string key) => All.Single(r => r.ToString() == key);

    public static IEnumerable<string> Keys => All.Select(r => r.ToString());

    public static HttpRequestMessage Request(string key)
    {
        var route = Find(key);
        var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path);
        if (route.Body is not null)
            request.Content = new StringContent(route.Body, Encoding.UTF8, route.ContentType);
        return request;
    }
}

/// <summary>An API-only node with a viewer key and an admin key.</summary>
public sealed class ApiKeysFixture : SharedNodeFixture
{
    public const string ViewerKey = "viewer-key-0123456789";
    public const string AdminKey = "admin-key-9876543210";

    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["Admin:ApiKeys:0:Key"] = ViewerKey,
        ["Admin:ApiKeys:0:Role"] = "viewer",
        ["Admin:ApiKeys:1:Key"] = AdminKey,
        ["Admin:ApiKeys:1:Role"] = "admin",
        ["DataTypes:t:Executor"] = "noop",
    };
}

/// <summary>With <c>Admin:ApiKeys</c>: no or a wrong key is 401, a viewer may read but not change, an admin may do both.</summary>
[Trait("Provider", "Sqlite")]
public sealed class ApiKeyAuthenticationTests(ApiKeysFixture fixture) : IClassFixture<ApiKeysFixture>
{
    public enum Presented { None, WrongBearer, WrongHeader, ViewerBearer, ViewerHeader, AdminBearer, AdminHeader }

    public static TheoryData<string, Presented> RoutesAndKeys()
    {
        var data = new TheoryData<string, Presented>();
        foreach (var route in ApiRoutes.Keys)
            foreach (var presented in Enum.GetValues<Presented>())
                data.Add(route, presented);
        return data;
    }

    private static void Present(HttpRequestMessage request, Presented presented)
    {
        switch (presented)
        {
            case Presented.WrongBearer: request.Headers.Authorization = new("Bearer", "not-a-valid-key-at-all"); break;
            case Presented.WrongHeader: request.Headers.Add("X-Api-Key", "not-a-valid-key-at-all"); break;
            case Presented.ViewerBearer: request.Headers.Authorization = new("Bearer", ApiKeysFixture.ViewerKey); break;
            case Presented.ViewerHeader: request.Headers.Add("X-Api-Key", ApiKeysFixture.ViewerKey); break;
            case Presented.AdminBearer: request.Headers.Authorization = new("Bearer", ApiKeysFixture.AdminKey); break;
            case Presented.AdminHeader: request.Headers.Add("X-Api-Key", ApiKeysFixture.AdminKey); break;
        }
    }

    [Theory]
    [MemberData(nameof(RoutesAndKeys))]
    public async Task ApiRoute_WithPresentedKey_AnswersByRole(string route, Presented presented)
    {
        using var request = ApiRoutes.Request(route);
        Present(request, presented);

        using var response = await fixture.Node.Http.SendAsync(request);

        var status = response.StatusCode;
        var body = await response.Content.ReadAsStringAsync();
        var because = $"{route} with {presented}: {(int)status} {body}";
        switch (presented)
        {
            case Presented.None or Presented.WrongBearer or Presented.WrongHeader:
                Assert.True(status == HttpStatusCode.Unauthorized, because);
                Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
                Assert.Contains(presented == Presented.None ? "API key is required" : "not valid", await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Unauthorized));
                break;
            case Presented.ViewerBearer or Presented.ViewerHeader when ApiRoutes.Find(route).Writes:
                Assert.True(status == HttpStatusCode.Forbidden, because);
                Assert.Contains("admin role", await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.Forbidden));
                break;
            default:
                Assert.True(status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden), because);
                Assert.True((int)status < 500, because);
                break;
        }
    }

    [Theory]
    [InlineData(ApiKeysFixture.ViewerKey, "viewer")]
    [InlineData(ApiKeysFixture.AdminKey, "admin")]
    public async Task Access_TellsTheKeysRole(string key, string role)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/access");
        request.Headers.Add("X-Api-Key", key);

        using var response = await fixture.Node.Http.SendAsync(request);

        response.EnsureSuccessStatusCode();
        Assert.Equal(role, (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("role").GetString());
    }

    [Fact]
    public async Task ViewerKey_WriteRefused_ChangesNothing()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/work-items/t/viewer-tried") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Api-Key", ApiKeysFixture.ViewerKey);

        using var response = await fixture.Node.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Null(await fixture.Node.ItemAsync("t", "viewer-tried"));
    }

    /// <summary>The Host and cross-site rules are for loopback callers without keys: a key is what a page on another origin cannot send.</summary>
    [Fact]
    public async Task AdminKey_ForeignHostCrossSiteSimplePost_IsServed()
    {
        using var http = new HttpClient { BaseAddress = fixture.Node.Http.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/failures/done?dataType=t") { Content = new StringContent("x", Encoding.UTF8, "text/plain") };
        request.Headers.Host = "scheduler.example.test";
        request.Headers.TryAddWithoutValidation("Origin", "http://evil.example");
        request.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "cross-site");
        request.Headers.Add("X-Api-Key", ApiKeysFixture.AdminKey);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    public async Task BearerScheme_AnyCase_IsAccepted(string scheme)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        request.Headers.TryAddWithoutValidation("Authorization", $"{scheme} {ApiKeysFixture.ViewerKey}");

        using var response = await fixture.Node.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Healthz_WithoutKey_Returns200()
    {
        using var response = await fixture.Node.Http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The page holds no data (it asks for a key and sends it with its API calls), so it is served to anyone.</summary>
    [Fact]
    public async Task Dashboard_WithoutKey_ServesThePageButNotItsData()
    {
        using var page = await fixture.Node.Http.GetAsync("/");
        using var data = await fixture.Node.Http.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, data.StatusCode);
    }

    [Fact]
    public void Endpoints_EveryApiRoute_RequiresViewerToReadAndAdminToChange()
    {
        var endpoints = ((IEndpointRouteBuilder)fixture.Node.App).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } path && (path.StartsWith("/api", StringComparison.Ordinal) || path.StartsWith("/openapi", StringComparison.Ordinal)))
            .ToList();

        Assert.True(endpoints.Count >= ApiRoutes.Keys.Count(), $"expected at least {ApiRoutes.Keys.Count()} /api and /openapi endpoints, found {endpoints.Count}");
        Assert.All(endpoints, e =>
        {
            var methods = e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [];
            var policies = e.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).ToList();
            var expected = methods.All(m => m is "GET" or "HEAD") ? ApiPolicies.Viewer : ApiPolicies.Admin;
            Assert.True(policies.Contains(expected) && e.Metadata.GetMetadata<IAllowAnonymous>() is null,
                $"{string.Join(",", methods)} {e.RoutePattern.RawText} should require the '{expected}' policy; has [{string.Join(", ", policies)}]");
        });
    }
}

/// <summary>A node without <c>Admin:ApiKeys</c>.</summary>
public sealed class NoApiKeysFixture : SharedNodeFixture
{
    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:t:Executor"] = "noop",
    };
}

/// <summary>Without <c>Admin:ApiKeys</c> a loopback caller (the test client) may do everything.</summary>
[Trait("Provider", "Sqlite")]
public sealed class ApiKeyAuthenticationWithoutKeysTests(NoApiKeysFixture fixture) : IClassFixture<NoApiKeysFixture>
{
    public static TheoryData<string> Routes() => new(ApiRoutes.Keys);

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task ApiRoute_LoopbackWithoutKey_IsServed(string route)
    {
        using var request = ApiRoutes.Request(route);

        using var response = await fixture.Node.Http.SendAsync(request);

        Assert.True(response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) && (int)response.StatusCode < 500,
            $"{route}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Dashboard_LoopbackWithoutKey_Returns200()
    {
        using var response = await fixture.Node.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

/// <summary>
/// The handler on its own, for what a loopback test client cannot show: a caller from another
/// address. Built the way ASP.NET builds it: constructed, then <c>InitializeAsync</c> with the request.
/// </summary>
public sealed class ApiKeyAuthenticationHandlerTests
{
    private static async Task<(ApiKeyAuthenticationHandler Handler, HttpContext Context)> HandlerForAsync(string remoteAddress, params ApiKeyOptions[] keys)
    {
        var schemeOptions = Substitute.For<IOptionsMonitor<AuthenticationSchemeOptions>>();
        schemeOptions.Get(Arg.Any<string>()).Returns(new AuthenticationSchemeOptions());
        var admin = Options.Create(new AdminOptions { ApiKeys = [.. keys] });
        var handler = new ApiKeyAuthenticationHandler(schemeOptions, NullLoggerFactory.Instance, System.Text.Encodings.Web.UrlEncoder.Default, admin);
        var context = new DefaultHttpContext
        {
            RequestServices = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider(),
            Connection = { RemoteIpAddress = IPAddress.Parse(remoteAddress) },
            Response = { Body = new MemoryStream() },
        };
        context.Request.Path = "/api/health";
        await handler.InitializeAsync(new AuthenticationScheme(ApiKeyAuthenticationHandler.SchemeName, null, typeof(ApiKeyAuthenticationHandler)), context);
        return (handler, context);
    }

    private static string Body(HttpContext context) => Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());

    [Fact]
    public async Task Authenticate_NoKeysConfiguredAndRemoteCaller_FailsAndChallengeIs403SayingLoopbackOnly()
    {
        var (handler, context) = await HandlerForAsync("10.1.2.3");

        var result = await handler.AuthenticateAsync();
        await handler.ChallengeAsync(null);

        Assert.False(result.Succeeded);
        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Contains("loopback", Body(context));
        Assert.Contains("Admin:ApiKeys", Body(context));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Authenticate_NoKeysConfiguredAndLoopbackCaller_SucceedsAsAdmin(string address)
    {
        var (handler, _) = await HandlerForAsync(address);

        var result = await handler.AuthenticateAsync();

        Assert.True(result.Succeeded);
        Assert.True(result.Principal!.IsInRole(AdminRoles.Admin));
    }

    [Fact]
    public async Task Authenticate_KeysConfiguredAndRemoteCallerWithViewerKey_SucceedsAsViewerOnly()
    {
        var (handler, context) = await HandlerForAsync("10.1.2.3", new ApiKeyOptions { Key = "remote-viewer-key", Role = AdminRoles.Viewer });
        context.Request.Headers["X-Api-Key"] = "remote-viewer-key";

        var result = await handler.AuthenticateAsync();

        Assert.True(result.Succeeded);
        Assert.True(result.Principal!.IsInRole(AdminRoles.Viewer));
        Assert.False(result.Principal.IsInRole(AdminRoles.Admin));
    }

    [Fact]
    public async Task Authenticate_KeysConfiguredAndLoopbackCallerWithoutKey_IsNotLetIn()
    {
        var (handler, context) = await HandlerForAsync("127.0.0.1", new ApiKeyOptions { Key = "some-admin-key", Role = AdminRoles.Admin });

        var result = await handler.AuthenticateAsync();
        await handler.ChallengeAsync(null);

        Assert.False(result.Succeeded);
        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
    }
}

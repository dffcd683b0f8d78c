using System.Net;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// A request no route serves gets problem details saying so (404), and one a route serves with
/// other methods gets them naming the methods it takes (405); the dashboard is served as before.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class UnmatchedRoutesTests(WorkItemsApiFixture fixture) : IClassFixture<WorkItemsApiFixture>
{
    private HttpClient Http => fixture.Node.Http;

    [Theory]
    [InlineData("GET", "/api/no-such-thing")]
    [InlineData("POST", "/api/work-items/x/y/z")]
    [InlineData("GET", "/no-such-page")]
    public async Task UnknownRoute_Returns404ProblemNamingTheRequest(string method, string path)
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.NotFound);
        Assert.Contains($"No route serves {method} {path}", detail, StringComparison.Ordinal);
        Assert.Contains("/openapi/v1.json", detail, StringComparison.Ordinal);
        var problem = await ApiResponses.JsonAsync(response);
        Assert.Equal("Not Found", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("DELETE", "/api/work-items", "GET, POST")]
    [InlineData("PATCH", "/api/work-items/plain/a", "GET, PUT, DELETE")]
    public async Task KnownRouteWithAnotherMethod_Returns405ProblemNamingTheMethodsItTakes(string method, string path, string allowed)
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Contains($"{path} does not take {method}", detail, StringComparison.Ordinal);
        foreach (var each in allowed.Split(", "))
            Assert.Contains(each, detail, StringComparison.Ordinal);
        var problem = await ApiResponses.JsonAsync(response);
        Assert.Equal("Method Not Allowed", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Dashboard_IsServedAsBefore()
    {
        using var page = await Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }
}

using System.Net;
using System.Text;
using BatchScheduler.Tests.Api;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace BatchScheduler.Tests.Admin;

/// <summary>
/// A viewer key is refused every changing route the node maps, found in the app's own endpoint data
/// sources (not a hand-written list), so a route added later is covered the day it is mapped; and
/// each refusal is in the audit trail under the key's name.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class ViewerRefusalTests(ApiKeysFixture fixture) : IClassFixture<ApiKeysFixture>
{
    /// <summary>Changing routes the node has today; the enumeration must find at least these (it finds new ones too).</summary>
    private static readonly string[] Known =
    [
        "PUT /api/work-items/{dataType}/{entityId}", "POST /api/work-items", "DELETE /api/work-items/{dataType}/{entityId}",
        "POST /api/work-items/{dataType}/{entityId}/run", "POST /api/work-items/{dataType}/{entityId}/pause",
        "POST /api/data-types/{dataType}/pause", "POST /api/batches", "POST /api/batches/{id}/cancel", "POST /api/failures/done",
    ];

    /// <summary>Every (method, route) of the node that is not a read, with a request path whose parameters are filled in.</summary>
    private List<(string Action, string Method, string Path)> ChangingRoutes()
    {
        var routes = new List<(string, string, string)>();
        foreach (var endpoint in ((IEndpointRouteBuilder)fixture.Node.App).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var pattern = endpoint.RoutePattern;
            // An endpoint without methods answers every method, changing ones included.
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } declared ? declared : ["POST", "PUT", "DELETE", "PATCH"];
            foreach (var method in methods.Where(m => m is not ("GET" or "HEAD" or "OPTIONS" or "TRACE")))
                routes.Add(($"{method} {Path(pattern, p => $"{{{p.Name}}}")}", method, Path(pattern, Sample)));
        }
        return routes;
    }

    private static string Path(RoutePattern pattern, Func<RoutePatternParameterPart, string> parameter) =>
        "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart p => parameter(p),
            RoutePatternSeparatorPart separator => separator.Content,
            _ => throw new InvalidOperationException($"unexpected route part {part}"),
        }))));

    /// <summary>A value the parameter's constraints accept: a number where it must be one, else a name of the fixture's data type.</summary>
    private static string Sample(RoutePatternParameterPart parameter) =>
        parameter.ParameterPolicies.Any(p => p.Content is "long" or "int") ? "1" : parameter.Name == "dataType" ? "t" : "viewer-tried";

    [Fact]
    public async Task EveryChangingRoute_WithAViewerKey_Is403_AndARowOfTheAuditTrail()
    {
        var routes = ChangingRoutes();
        Assert.Empty(Known.Except(routes.Select(r => r.Action)));

        var answers = new List<string>();
        foreach (var (action, method, path) in routes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Api-Key", ApiKeysFixture.ViewerKey);
            using var response = await fixture.Node.Http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Forbidden)
                answers.Add($"{action} ({method} {path}): {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        Assert.True(answers.Count == 0, "A viewer key was not refused (403):\n" + string.Join("\n", answers));

        using var audit = new HttpRequestMessage(HttpMethod.Get, "/api/audit?who=key-0&limit=1000");
        audit.Headers.Add("X-Api-Key", ApiKeysFixture.ViewerKey);
        using var listed = await fixture.Node.Http.SendAsync(audit);
        var rows = (await ApiResponses.JsonAsync(listed)).EnumerateArray()
            .Where(r => r.GetProperty("status").GetInt32() == 403).Select(r => r.GetProperty("action").GetString()).ToHashSet();
        Assert.Empty(routes.Select(r => r.Action).Where(a => a[(a.IndexOf(' ') + 1)..].StartsWith("/api/", StringComparison.Ordinal)).Except(rows));
    }
}

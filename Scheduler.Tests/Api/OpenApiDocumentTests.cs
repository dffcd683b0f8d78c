using System.Net;
using System.Text;
using System.Text.Json;
using BatchScheduler.Batches;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace BatchScheduler.Tests.Api;

/// <summary>An API-only node without keys (the loopback test client is admin) and one data type.</summary>
public sealed class OpenApiFixture : SharedNodeFixture
{
    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:t:Executor"] = "noop",
    };
}

/// <summary>
/// <c>/openapi/v1.json</c> describes every route the node maps, with the JSON shapes the API
/// really sends. The routes come from the app's own endpoint data sources, so a route added
/// without a description fails here.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class OpenApiDocumentTests(OpenApiFixture fixture) : IClassFixture<OpenApiFixture>
{
    /// <summary>Routes deliberately left out of the document: the dashboard's page and files, and the document itself.</summary>
    private static readonly string[] Undescribed = ["GET /", "GET /dashboard/{path}", "GET /openapi/{documentName}.json"];

    /// <summary>POST routes that take no body; every other POST and PUT must declare one.</summary>
    private static readonly string[] Bodiless =
    [
        "POST /api/work-items/{dataType}/{entityId}/run",
        "POST /api/batches/{id}/cancel",
        "POST /api/failures/{id}/done",
        "POST /api/failures/done",
        "POST /api/data-types/{dataType}/resume",
        "POST /api/work-items/{dataType}/{entityId}/resume",
    ];

    private HttpClient Http => fixture.Node.Http;

    private async Task<JsonElement> DocumentAsync()
    {
        using var response = await Http.GetAsync("/openapi/v1.json");
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /openapi/v1.json: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await ApiResponses.JsonAsync(response);
    }

    /// <summary>"GET /api/failures/{id}/done" for every method of every endpoint the app maps; constraints and optional markers dropped, as OpenAPI writes paths.</summary>
    private List<(string Key, Endpoint Endpoint)> MappedRoutes()
    {
        var routes = new List<(string, Endpoint)>();
        foreach (var endpoint in ((IEndpointRouteBuilder)fixture.Node.App).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var path = "/" + string.Join("/", endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
            {
                RoutePatternLiteralPart literal => literal.Content,
                RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
                RoutePatternSeparatorPart separator => separator.Content,
                _ => throw new InvalidOperationException($"unexpected route part {part}"),
            }))));
            // An endpoint without methods answers them all, which no document can list: "ANY" fails the test below.
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } declared ? declared : ["ANY"];
            foreach (var method in methods)
                routes.Add(($"{method} {path}", endpoint));
        }
        return routes;
    }

    internal static JsonElement? Operation(JsonElement document, string key)
    {
        var (method, path) = (key[..key.IndexOf(' ')], key[(key.IndexOf(' ') + 1)..]);
        return document.GetProperty("paths").TryGetProperty(path, out var item) && item.TryGetProperty(method.ToLowerInvariant(), out var operation)
            ? operation
            : null;
    }

    /// <summary>Follows <c>$ref</c> into components, and a nullable <c>oneOf [null, $ref]</c> to its non-null branch.</summary>
    internal static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        if (schema.TryGetProperty("$ref", out var reference))
            return Resolve(document, document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]));
        if (schema.TryGetProperty("oneOf", out var options) && options.EnumerateArray().Count(o => !IsNull(o)) == 1)
            return Resolve(document, options.EnumerateArray().Single(o => !IsNull(o)));
        return schema;

        static bool IsNull(JsonElement s) => s.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "null";
    }

    internal static JsonElement ResponseSchema(JsonElement document, string key, string status) =>
        Resolve(document, Operation(document, key)!.Value.GetProperty("responses").GetProperty(status)
            .GetProperty("content").GetProperty("application/json").GetProperty("schema"));

    /// <summary>Every operation of the document as ("GET /api/work-items", operation).</summary>
    internal static IEnumerable<(string Key, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject().SelectMany(path => path.Value.EnumerateObject()
            .Select(operation => ($"{operation.Name.ToUpperInvariant()} {path.Name}", operation.Value)));

    private static string[] PropertyNames(JsonElement schema) =>
        [.. schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];

    private static string[] Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var required) ? [.. required.EnumerateArray().Select(r => r.GetString()!).Order(StringComparer.Ordinal)] : [];

    [Fact]
    public async Task Document_EveryMappedRoute_IsDescribedWithItsSuccessResponseAndRequestBody()
    {
        var document = await DocumentAsync();
        var mapped = MappedRoutes();

        var excluded = mapped.Where(r => r.Endpoint.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true })
            .Select(r => r.Key).Order(StringComparer.Ordinal);
        Assert.True(Undescribed.Order(StringComparer.Ordinal).SequenceEqual(excluded),
            $"Excluded from the document: [{string.Join(", ", excluded)}]; expected [{string.Join(", ", Undescribed)}]. "
            + "Describe a new route, or list it in Undescribed if leaving it out is deliberate.");
        var described = mapped.Where(r => !Undescribed.Contains(r.Key)).ToList();
        Assert.Contains(described, r => r.Key == "GET /healthz");
        Assert.Contains(described, r => r.Key == "POST /api/failures/done");
        Assert.All(Bodiless, key => Assert.Contains(described, r => r.Key == key)); // the list names real routes

        var problems = new List<string>();
        foreach (var (key, endpoint) in described)
        {
            if (key.StartsWith("ANY ", StringComparison.Ordinal))
            {
                problems.Add($"{key[4..]}: answers every HTTP method; map it for the methods it serves (for a middleware endpoint: PipelineEndpoints.Describe)");
                continue;
            }
            if (Operation(document, key) is not { } operation)
            {
                problems.Add($"{key}: not in the document");
                continue;
            }
            if (!operation.TryGetProperty("summary", out _))
                problems.Add($"{key}: no summary");
            var responses = operation.GetProperty("responses");
            var successes = responses.EnumerateObject().Where(r => r.Name.StartsWith('2')).ToList();
            if (successes.Count == 0)
                problems.Add($"{key}: no success response");
            foreach (var success in successes.Where(r => r.Name != "204" && !key.StartsWith("HEAD ", StringComparison.Ordinal)))
            {
                if (!success.Value.TryGetProperty("content", out var content) || !content.EnumerateObject().Any()
                    || content.EnumerateObject().Any(c => !c.Value.TryGetProperty("schema", out _)))
                {
                    problems.Add($"{key}: response {success.Name} has no schema");
                }
            }
            if (key.StartsWith("PUT ", StringComparison.Ordinal) || (key.StartsWith("POST ", StringComparison.Ordinal) && !Bodiless.Contains(key)))
            {
                if (!operation.TryGetProperty("requestBody", out var body) || !body.GetProperty("content").EnumerateObject().Any()
                    || body.GetProperty("content").EnumerateObject().Any(c => !c.Value.TryGetProperty("schema", out _)))
                {
                    problems.Add($"{key}: takes a body but the document declares no request body schema");
                }
            }
            if (endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Count > 0
                && !(responses.TryGetProperty("401", out _) && responses.TryGetProperty("403", out _) && operation.TryGetProperty("security", out _)))
            {
                problems.Add($"{key}: requires a key but the document does not say so (security, 401, 403)");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // And nothing that is not served: the document's operations are exactly the mapped routes.
        var documented = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}")).Order(StringComparer.Ordinal);
        Assert.Equal(described.Select(r => r.Key).Where(k => !k.StartsWith("ANY ", StringComparison.Ordinal)).Order(StringComparer.Ordinal), documented);
    }

    /// <summary>Issue 22: each data type's limits, the live nodes that run it and the unserved flag are in the document.</summary>
    [Fact]
    public async Task Document_DataTypes_ShowLimitsNodesAndUnserved()
    {
        var document = await DocumentAsync();

        var list = ResponseSchema(document, "GET /api/data-types", "200");
        var type = Resolve(document, list.GetProperty("items"));
        Assert.Subset(PropertyNames(type).ToHashSet(), new HashSet<string> { "maxConcurrency", "maxConcurrencyPerNode", "nodes", "unserved" });
        Assert.DoesNotContain("limits", PropertyNames(type));
        Assert.Equal("\"boolean\"", type.GetProperty("properties").GetProperty("unserved").GetProperty("type").GetRawText());
        Assert.Contains("unserved", Operation(document, "GET /api/data-types")!.Value.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(PropertyNames(type), PropertyNames(ResponseSchema(document, "POST /api/data-types/{dataType}/pause", "200")));
    }

    [Fact]
    public async Task Document_Audit_IsAnArrayWithTheNextPageInALinkHeader()
    {
        var document = await DocumentAsync();

        Assert.Equal("\"array\"", ResponseSchema(document, "GET /api/audit", "200").GetProperty("type").GetRawText());
        var ok = Operation(document, "GET /api/audit")!.Value.GetProperty("responses").GetProperty("200");
        Assert.Contains("rel=\"next\"", ok.GetProperty("headers").GetProperty("Link").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Document_Shapes_AreTheCamelCaseJsonTheApiSends()
    {
        var document = await DocumentAsync();

        var item = ResponseSchema(document, "GET /api/work-items/{dataType}/{entityId}", "200");
        Assert.Equal(["attempt", "batchId", "dataType", "entityId", "lastError", "nextRunAt", "paused", "payload", "state", "tier", "updatesEnd", "updatesStart"],
            PropertyNames(item));
        Assert.Contains("date-time", item.GetProperty("properties").GetProperty("nextRunAt").ToString());
        Assert.Equal("\"integer\"", item.GetProperty("properties").GetProperty("attempt").GetProperty("type").GetRawText());
        var summary = ResponseSchema(document, "GET /api/batches/{id}", "200");
        Assert.Contains("succeeded", PropertyNames(summary));
        Assert.Contains("pending", PropertyNames(summary));
        Assert.Equal(["marked"], PropertyNames(ResponseSchema(document, "POST /api/failures/done", "200")));
        Assert.Equal(["checks", "status"], PropertyNames(ResponseSchema(document, "GET /healthz/ready", "503")));
        var page = ResponseSchema(document, "GET /api/failures", "200");
        Assert.Contains("doneAt", PropertyNames(Resolve(document, Resolve(document, page.GetProperty("properties").GetProperty("items")).GetProperty("items"))));

        var put = Resolve(document, Operation(document, "PUT /api/work-items/{dataType}/{entityId}")!.Value
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.Equal(["payload", "runAt", "tier"], PropertyNames(put));
        Assert.Equal([], Required(put)); // {} is a valid body: default tier, no payload, due now
        var bulk = Resolve(document, Operation(document, "POST /api/work-items")!.Value
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.Equal(["dataType", "items"], PropertyNames(bulk));
        var bulkItem = Resolve(document, Resolve(document, bulk.GetProperty("properties").GetProperty("items")).GetProperty("items"));
        Assert.Equal(["entityId", "payload", "runAt", "tier"], PropertyNames(bulkItem));
        Assert.Equal(["entityId"], Required(bulkItem));
        var upload = Operation(document, "POST /api/batches")!.Value.GetProperty("requestBody").GetProperty("content");
        Assert.Equal(["application/x-ndjson", "text/csv"], upload.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.All(upload.EnumerateObject(), c =>
        {
            var schema = Resolve(document, c.Value.GetProperty("schema"));
            Assert.Equal("string", schema.GetProperty("type").GetString());
            Assert.Equal("binary", schema.GetProperty("format").GetString());
        });

        var cancel = Operation(document, "POST /api/batches/{id}/cancel")!.Value.GetProperty("responses");
        Assert.Equal(["200", "400", "401", "403", "404", "409"], cancel.EnumerateObject().Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Contains("ProblemDetails", cancel.GetProperty("409").GetProperty("content").GetProperty("application/problem+json").GetRawText());
        Assert.Contains("ProblemDetails", cancel.GetProperty("401").GetProperty("content").GetProperty("application/problem+json").GetRawText());
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("X-Api-Key", schemes.EnumerateObject().Single(s => s.Value.GetProperty("type").GetString() == "apiKey").Value.GetProperty("name").GetString());
        Assert.Contains(schemes.EnumerateObject(), s => s.Value.GetProperty("type").GetString() == "http" && s.Value.GetProperty("scheme").GetString() == "bearer");
    }

    [Fact]
    public async Task Document_WorkItemAndBatchSchemas_ListExactlyThePropertiesOfRealResponses()
    {
        var document = await DocumentAsync();
        var entityId = $"openapi-{Guid.NewGuid():N}";
        using (var put = await Http.PutAsync($"/api/work-items/t/{entityId}", new StringContent("""{"payload":{"x":1}}""", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var submitted = await Http.PostAsync("/api/batches?dataType=t", new StringContent($$"""{"entityId":"{{entityId}}-b"}""" + "\n", Encoding.UTF8, "application/x-ndjson"));
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var batchId = (await ApiResponses.JsonAsync(submitted)).GetProperty("id").GetString();

        using var item = await Http.GetAsync($"/api/work-items/t/{entityId}");
        using var batch = await Http.GetAsync($"/api/batches/{batchId}");
        using var ready = await Http.GetAsync("/healthz/ready");

        Assert.Equal(PropertyNames(ResponseSchema(document, "GET /api/work-items/{dataType}/{entityId}", "200")),
            (await ApiResponses.JsonAsync(item)).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(PropertyNames(ResponseSchema(document, "GET /api/batches/{id}", "200")),
            (await ApiResponses.JsonAsync(batch)).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(PropertyNames(ResponseSchema(document, "GET /healthz/ready", "200")),
            (await ApiResponses.JsonAsync(ready)).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    /// <summary>Issue 23: client generators name their methods after operationIds, so each operation has one, unique, a camelCase verb and noun.</summary>
    [Fact]
    public async Task Document_EveryOperation_HasAUniqueCamelCaseOperationId()
    {
        var document = await DocumentAsync();

        var problems = new List<string>();
        var ids = new List<string>();
        foreach (var (key, operation) in Operations(document))
        {
            if (!operation.TryGetProperty("operationId", out var id) || id.GetString() is not { } name)
            {
                problems.Add($"{key}: no operationId (give the route .WithName(\"verbNoun\"))");
                continue;
            }
            if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z]+(?:[A-Z][a-z0-9]*)+$"))
                problems.Add($"{key}: operationId '{name}' is not a camelCase verb and noun");
            ids.Add(name);
        }
        problems.AddRange(ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => $"operationId '{g.Key}' is used {g.Count()} times"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal("listWorkItems", Operation(document, "GET /api/work-items")!.Value.GetProperty("operationId").GetString());
        Assert.Equal("runWorkItemNow", Operation(document, "POST /api/work-items/{dataType}/{entityId}/run")!.Value.GetProperty("operationId").GetString());
        Assert.Equal("getLiveness", Operation(document, "GET /healthz")!.Value.GetProperty("operationId").GetString());
    }

    /// <summary>
    /// Issue 23: a route anyone may call says so with an empty security requirement (<c>security: []</c>),
    /// overriding the document's own (a key as Bearer or X-Api-Key); every other route names the key schemes.
    /// </summary>
    [Fact]
    public async Task Document_AnonymousRoutes_DeclareEmptySecurity_OthersTheKeySchemes()
    {
        var document = await DocumentAsync();

        var global = document.GetProperty("security").EnumerateArray().Select(r => string.Join("+", r.EnumerateObject().Select(s => s.Name))).Order(StringComparer.Ordinal);
        Assert.Equal(["apiKey", "bearer"], global);
        var anonymous = new List<string>();
        foreach (var (key, endpoint) in MappedRoutes().Where(r => !Undescribed.Contains(r.Key)))
        {
            var security = Operation(document, key)!.Value.GetProperty("security");
            if (endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Count == 0 || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                Assert.True(security.GetArrayLength() == 0, $"{key} is anonymous but its security is {security}");
                anonymous.Add(key);
            }
            else
            {
                Assert.True(security.GetArrayLength() > 0, $"{key} requires a key but declares no security scheme");
            }
        }
        Assert.Equal(["GET /healthz", "GET /healthz/ready", "HEAD /healthz", "HEAD /healthz/ready"], anonymous.Order(StringComparer.Ordinal));
    }

    /// <summary>Issue 23: string properties with a fixed set of values list them (enum), and real answers keep to them.</summary>
    [Fact]
    public async Task Document_StatesAndStatuses_ListTheirValues()
    {
        var document = await DocumentAsync();

        var item = ResponseSchema(document, "GET /api/work-items/{dataType}/{entityId}", "200");
        Assert.Equal(WorkItemStates.All, Values(item, "state"));
        var batch = ResponseSchema(document, "GET /api/batches/{id}", "200");
        Assert.Equal(BatchStatuses.All, Values(batch, "status"));
        Assert.Equal(["completed", "partial_success", "failed", "expired", "cancelled", "archived"], Values(batch, "outcome"));
        Assert.True(ValuesIncludeNull(batch, "outcome")); // no outcome while the batch runs
        var errors = Resolve(document, ResponseSchema(document, "GET /api/batches/{id}/errors", "200").GetProperty("items"));
        Assert.Equal(["invalid", "failed", "expired", "cancelled"], Values(errors, "outcome"));
        var action = ResponseSchema(document, "GET /api/work-items/actions/{id}", "200");
        Assert.Equal(["running", "done", "failed", "interrupted"], Values(action, "state"));
        Assert.Equal(["run", "delete", "tier", "pause", "resume", "cancel"], Values(action, "action"));
        var filter = Resolve(document, action.GetProperty("properties").GetProperty("filter"));
        Assert.Equal(WorkItemStates.All, Values(filter, "state"));
        Assert.True(ValuesIncludeNull(filter, "state")); // a filter without a state
        Assert.Equal(["Unhealthy", "Degraded", "Healthy"], Values(ResponseSchema(document, "GET /healthz/ready", "503"), "status"));
        Assert.Equal(["viewer", "admin"], Values(ResponseSchema(document, "GET /api/access", "200"), "role"));

        var entityId = $"openapi-enum-{Guid.NewGuid():N}";
        using (var put = await Http.PutAsync($"/api/work-items/t/{entityId}", new StringContent("{}", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var got = await Http.GetAsync($"/api/work-items/t/{entityId}");
        Assert.Contains((await ApiResponses.JsonAsync(got)).GetProperty("state").GetString(), Values(item, "state"));
        using var access = await Http.GetAsync("/api/access");
        Assert.Contains((await ApiResponses.JsonAsync(access)).GetProperty("role").GetString(), Values(ResponseSchema(document, "GET /api/access", "200"), "role"));
    }

    /// <summary>The string values of a property's <c>enum</c>; empty when it has none.</summary>
    private static string[] Values(JsonElement schema, string property) =>
        [.. Enum(schema, property).Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)];

    private static bool ValuesIncludeNull(JsonElement schema, string property) =>
        Enum(schema, property).Any(v => v.ValueKind == JsonValueKind.Null);

    private static IEnumerable<JsonElement> Enum(JsonElement schema, string property) =>
        schema.GetProperty("properties").GetProperty(property).TryGetProperty("enum", out var values) ? values.EnumerateArray() : [];
}

using System.Globalization;
using System.Net;
using System.Text.Json;
using BatchScheduler.Batches;
using BatchScheduler.WorkItems;
using static BatchScheduler.Tests.Api.OpenApiDocumentTests;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// Issue 23: the document's query parameters say what each route accepts. The routes bind them as
/// text on purpose (a bad value gets a 400 naming the field); the document still gives each one a
/// description and the type, bounds, format or values the route's own check enforces.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class OpenApiQueryParametersTests(OpenApiFixture fixture) : IClassFixture<OpenApiFixture>
{
    private HttpClient Http => fixture.Node.Http;

    private async Task<JsonElement> DocumentAsync()
    {
        using var response = await Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ApiResponses.JsonAsync(response);
    }

    private static IEnumerable<JsonElement> QueryParameters(JsonElement operation) =>
        operation.TryGetProperty("parameters", out var parameters)
            ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query")
            : [];

    private static JsonElement Schema(JsonElement document, string key, string name) =>
        QueryParameters(Operation(document, key)!.Value).Single(p => p.GetProperty("name").GetString() == name).GetProperty("schema");

    private static string? Text(JsonElement schema, string property) =>
        schema.TryGetProperty(property, out var value) ? value.ToString() : null;

    [Fact]
    public async Task Document_EveryQueryParameter_HasADescription()
    {
        var document = await DocumentAsync();

        var undescribed = Operations(document)
            .SelectMany(o => QueryParameters(o.Operation)
                .Where(p => !p.TryGetProperty("description", out var d) || string.IsNullOrWhiteSpace(d.GetString()))
                .Select(p => $"{o.Key} ?{p.GetProperty("name").GetString()}"))
            .ToList();
        Assert.True(undescribed.Count == 0,
            "Query parameters without a description (document them with a [Query*] attribute on the handler's parameter, see ApiDocument.cs):\n"
            + string.Join("\n", undescribed));
    }

    [Fact]
    public async Task Document_QueryParameters_HaveTheirTypeBoundsFormatAndValues()
    {
        var document = await DocumentAsync();

        var limit = Schema(document, "GET /api/work-items", "limit");
        Assert.Equal(("integer", "1", "1000", "100"), (Text(limit, "type"), Text(limit, "minimum"), Text(limit, "maximum"), Text(limit, "default")));
        Assert.Equal(WorkItemStates.All, Schema(document, "GET /api/work-items", "state").GetProperty("enum").EnumerateArray().Select(v => v.GetString()!));
        Assert.Equal(WorkItemStates.All, Schema(document, "GET /api/work-items/actions/matching", "state").GetProperty("enum").EnumerateArray().Select(v => v.GetString()!));
        Assert.Equal(BatchStatuses.All, Schema(document, "GET /api/batches", "status").GetProperty("enum").EnumerateArray().Select(v => v.GetString()!));
        Assert.Equal("boolean", Text(Schema(document, "GET /api/failures", "done"), "type"));
        foreach (var (key, name) in new[] { ("GET /api/audit", "since"), ("POST /api/failures/done", "before"), ("POST /api/batches", "deadline") })
            Assert.Equal(("string", "date-time"), (Text(Schema(document, key, name), "type"), Text(Schema(document, key, name), "format")));
        Assert.Equal(("string", "uri"), (Text(Schema(document, "POST /api/batches", "callbackUrl"), "type"), Text(Schema(document, "POST /api/batches", "callbackUrl"), "format")));
    }

    /// <summary>
    /// Every typed query parameter of a GET route, sent the values the document allows (each value of an
    /// enum, both bounds of an integer, true/false, an instant) and some it does not: the former are not
    /// refused, the latter are answered 400 naming the parameter. So the document and the routes' own
    /// checks cannot drift apart.
    /// </summary>
    [Fact]
    public async Task Document_TypedQueryParameters_AreWhatTheRoutesAccept()
    {
        var document = await DocumentAsync();

        var problems = new List<string>();
        var checkedParameters = new List<string>();
        foreach (var (key, operation) in Operations(document).Where(o => o.Key.StartsWith("GET /api/", StringComparison.Ordinal) && !o.Key.Contains('{')))
        {
            var path = key["GET ".Length..];
            foreach (var parameter in QueryParameters(operation))
            {
                var name = parameter.GetProperty("name").GetString()!;
                var (allowed, refused) = Samples(parameter.GetProperty("schema"));
                if (allowed.Length == 0)
                    continue;
                checkedParameters.Add($"{key} ?{name}");
                foreach (var value in allowed)
                {
                    using var response = await Http.GetAsync($"{path}?{name}={Uri.EscapeDataString(value)}");
                    if (response.StatusCode == HttpStatusCode.BadRequest)
                        problems.Add($"{key} ?{name}={value}: the document allows it, the route answered 400 {await response.Content.ReadAsStringAsync()}");
                }
                foreach (var value in refused)
                {
                    using var response = await Http.GetAsync($"{path}?{name}={Uri.EscapeDataString(value)}");
                    var body = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode != HttpStatusCode.BadRequest || !body.Contains(name, StringComparison.Ordinal))
                        problems.Add($"{key} ?{name}={value}: the document does not allow it, the route answered {(int)response.StatusCode} {body}");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Subset(checkedParameters.ToHashSet(),
            new HashSet<string> { "GET /api/work-items ?state", "GET /api/work-items ?limit", "GET /api/batches ?status", "GET /api/failures ?done", "GET /api/audit ?since" });
    }

    /// <summary>Values the schema allows and values it does not; none for plain text.</summary>
    private static (string[] Allowed, string[] Refused) Samples(JsonElement schema)
    {
        if (schema.TryGetProperty("enum", out var values))
            return ([.. values.EnumerateArray().Select(v => v.GetString()!)], ["no-such-value"]);
        switch (Text(schema, "type"))
        {
            case "integer":
                var min = long.Parse(Text(schema, "minimum")!, CultureInfo.InvariantCulture);
                var max = long.Parse(Text(schema, "maximum")!, CultureInfo.InvariantCulture);
                return ([Invariant(min), Invariant(max)], [Invariant(min - 1), Invariant(max + 1), "1.5", "x"]);
            case "boolean":
                return (["true", "false"], ["yes"]);
            case "string" when Text(schema, "format") == "date-time":
                return (["2026-11-23T18:00:00Z"], ["tomorrow"]);
            default:
                return ([], []);
        }

        static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
    }
}

using System.Net;
using System.Text;
using System.Text.Json;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// What a JSON body may hold, and what the answer says when it holds something else: a field the
/// route does not know is refused by name (with the fields it knows), a value of the wrong kind is
/// named with the kind expected, and text that is not JSON gets where and why, never a .NET type
/// name or the parser's own wording.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class JsonErrorsTests(JsonBodyFixture fixture) : IClassFixture<JsonBodyFixture>
{
    private HttpClient Http => fixture.Node.Http;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private static void AssertPlain(string detail)
    {
        foreach (var internals in new[] { "BatchScheduler.", "System.", "could not be converted", "isFinalBlock", "LineNumber", "BytePositionInLine", "Path:" })
            Assert.DoesNotContain(internals, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_MisspeltField_Returns400NamingItAndTheAllowedFields_AndKeepsTheStoredPayload()
    {
        var id = NewId("misspelt");
        using (var first = await Http.PutAsync($"/api/work-items/plain/{id}", Json("""{"payload":{"kept":1}}""")))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        using var response = await Http.PutAsync($"/api/work-items/plain/{id}", Json("""{"payloadd":{"kept":2}}"""));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("Unknown field 'payloadd' (allowed: tier, payload, runAt)", detail, StringComparison.Ordinal);
        AssertPlain(detail);
        var item = await fixture.Node.ItemAsync("plain", id);
        Assert.Equal("""{"kept":1}""", item!.Payload?.GetRawText());
    }

    [Theory]
    [InlineData("/api/work-items", """{"dataType":"plain","items":[{"entityId":"unknown-field","tierr":"x"}]}""", "items[0].tierr", "entityId, tier, payload, runAt")]
    [InlineData("/api/work-items", """{"dataType":"plain","itemz":[]}""", "itemz", "dataType, items")]
    [InlineData("/api/work-items/actions", """{"action":"delete","filter":{"dataTyp":"plain"}}""", "filter.dataTyp", "dataType, state, tier, entityPrefix, errorContains")]
    [InlineData("/api/data-types/plain/pause", """{"reason":"maintenance","until":"tomorrow"}""", "until", "reason")]
    public async Task Post_UnknownField_Returns400NamingItAndTheAllowedFields_AndChangesNothing(string route, string body, string field, string allowed)
    {
        using var response = await Http.PostAsync(route, Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains($"Unknown field '{field}' (allowed: {allowed})", detail, StringComparison.Ordinal);
        AssertPlain(detail);
        Assert.Null(await fixture.Node.ItemAsync("plain", "unknown-field"));
        using var types = await Http.GetAsync("/api/data-types");
        var plain = (await ApiResponses.JsonAsync(types)).EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == "plain");
        Assert.False(plain.GetProperty("paused").GetBoolean());
    }

    [Fact]
    public async Task Put_AnyFieldsInsideThePayload_AreStoredAsSent()
    {
        var id = NewId("free-form");
        const string payload = """{"payloadd":1,"tierr":{"anything":[true,null]}}""";

        using var response = await Http.PutAsync($"/api/work-items/plain/{id}", Json($$"""{"payload":{{payload}}}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = await fixture.Node.ItemAsync("plain", id);
        Assert.Equal(payload, item!.Payload?.GetRawText());
    }

    [Theory]
    [InlineData("/api/work-items/plain/{id}", """{"tier": 5}""", "'tier' must be a string (line 1, position")]
    [InlineData("/api/work-items/plain/{id}", """{"payload": {}, "runAt": true}""", "'runAt' must be a string")]
    [InlineData("/api/work-items/plain/{id}", """[1, 2]""", "The request body must be a JSON object.")]
    [InlineData("/api/work-items", """{"dataType": "plain", "items": {}}""", "'items' must be an array")]
    [InlineData("/api/work-items", """{"dataType": "plain", "items": [5]}""", "'items[0]' must be a JSON object")]
    [InlineData("/api/work-items/actions", """{"action": "delete", "filter": "plain"}""", "'filter' must be a JSON object")]
    public async Task Body_ValueOfTheWrongKind_Returns400SayingWhatIsExpected_InPlainWords(string route, string body, string expected)
    {
        var path = route.Replace("{id}", NewId("kind"), StringComparison.Ordinal);
        using var response = path.StartsWith("/api/work-items/plain/", StringComparison.Ordinal)
            ? await Http.PutAsync(path, Json(body))
            : await Http.PostAsync(path, Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, detail, StringComparison.Ordinal);
        AssertPlain(detail);
    }

    [Theory]
    [InlineData("{\n  \"tier\": \"first\",\n  \"payload\": {", "it ends before the JSON is complete", "(line 3, position 15)")]
    [InlineData("""{"tier": "a"} x""", "it has 'x' where JSON does not allow it", "(line 1, position 15)")]
    [InlineData("""{"tier": 'a'}""", "it has ''' where JSON does not allow it", "(line 1, position 10)")]
    [InlineData("""{"payload": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}""",
        "it nests objects and arrays more than 64 levels deep", "(line 1, position")]
    public async Task Put_TextThatIsNotJson_Returns400SayingWhereAndWhy_InPlainWords(string body, string why, string where)
    {
        using var response = await Http.PutAsync($"/api/work-items/plain/{NewId("not-json")}", Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.StartsWith("The request body is not valid JSON: ", detail, StringComparison.Ordinal);
        Assert.Contains(why, detail, StringComparison.Ordinal);
        Assert.Contains(where, detail, StringComparison.Ordinal);
        AssertPlain(detail);
    }
}

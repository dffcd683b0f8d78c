using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// An API-only node (nothing executes, so an item's state stays where registration put it) with a
/// data type without tiers, one with tiers and one that only the bulk test fills.
/// </summary>
public sealed class WorkItemsApiFixture : SharedNodeFixture
{
    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:plain:Executor"] = "noop",
        ["DataTypes:tiered:Executor"] = "noop",
        ["DataTypes:tiered:Cadence:first"] = "01:00:00",
        ["DataTypes:tiered:Cadence:second"] = "1.00:00:00",
        ["DataTypes:bulk:Executor"] = "noop",
        ["DataTypes:bulk:Cadence:first"] = "01:00:00",
    };
}

/// <summary>The <c>/api/work-items</c> routes: every bad input gets a 4xx saying what was wrong; good input is kept.</summary>
[Trait("Provider", "Sqlite")]
public sealed class WorkItemsApiTests(WorkItemsApiFixture fixture) : IClassFixture<WorkItemsApiFixture>
{
    private HttpClient Http => fixture.Node.Http;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    // --- single item: PUT ---

    [Fact]
    public async Task Put_UnknownDataType_Returns404NamingItAndListingConfiguredOnes()
    {
        using var response = await Http.PutAsync("/api/work-items/no-such-type/a", Json("{}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("no-such-type", detail);
        Assert.Contains("bulk, plain, tiered", detail);
    }

    [Fact]
    public async Task Put_MalformedJson_Returns400WithLineAndPosition()
    {
        using var response = await Http.PutAsync("/api/work-items/plain/a", Json("{\n  \"tier\": \"first\",\n  \"payload\": {"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", detail);
        Assert.Matches(@"line \d+, position \d+", detail);
    }

    [Fact]
    public async Task Put_WrongJsonTypeForTier_Returns400NamingTheField()
    {
        using var response = await Http.PutAsync("/api/work-items/tiered/a", Json("{\"tier\": 5}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("'tier' must be a string", detail);
        Assert.DoesNotContain("BatchScheduler", detail);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("null", "null")]
    public async Task Put_EmptyOrNullBody_Returns400SayingSo(string body, string expected)
    {
        using var response = await Http.PutAsync("/api/work-items/plain/a", Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, detail);
    }

    [Fact]
    public async Task Put_NonJsonContentType_Returns415SayingSendJson()
    {
        using var response = await Http.PutAsync("/api/work-items/plain/a", new StringContent("tier=first", Encoding.UTF8, "text/plain"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", detail);
    }

    [Fact]
    public async Task Put_UnknownTierForTieredDataType_Returns400NamingAllowedTiers()
    {
        var id = NewId("tier");
        using var response = await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "platinum" });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("platinum", detail);
        Assert.Contains("first, second, exclude", detail);
        using var get = await Http.GetAsync($"/api/work-items/tiered/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_EntityIdOver200Characters_Returns400NamingTheLimit()
    {
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{new string('x', 201)}", new { });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("201", detail);
        Assert.Contains("200", detail);
    }

    [Fact]
    public async Task Put_EntityIdOf200Characters_IsAccepted()
    {
        var id = new string('y', 199) + Guid.NewGuid().ToString("N")[0];
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{id}", new { });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(id, (await ApiResponses.JsonAsync(response)).GetProperty("entityId").GetString());
    }

    [Fact]
    public async Task Put_NewItem_ReturnsItemWithTheDesignedCamelCaseFields()
    {
        var id = NewId("put");
        using var response = await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "second", payload = new { n = 1 } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = await ApiResponses.JsonAsync(response);
        foreach (var field in new[] { "dataType", "entityId", "tier", "state", "updatesStart", "updatesEnd", "attempt", "nextRunAt", "lastError", "batchId" })
            Assert.True(item.TryGetProperty(field, out _), $"the item should have a '{field}' field: {item}");
        Assert.Equal("tiered", item.GetProperty("dataType").GetString());
        Assert.Equal(id, item.GetProperty("entityId").GetString());
        Assert.Equal("second", item.GetProperty("tier").GetString());
        Assert.Equal("never_run", item.GetProperty("state").GetString());
        Assert.Equal(0, item.GetProperty("attempt").GetInt32());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("updatesStart").ValueKind);
        Assert.Equal(JsonValueKind.Null, item.GetProperty("updatesEnd").ValueKind);
        Assert.Equal(JsonValueKind.Null, item.GetProperty("lastError").ValueKind);
        Assert.Equal(JsonValueKind.Null, item.GetProperty("batchId").ValueKind);
        var nextRunAt = item.GetProperty("nextRunAt").GetDateTimeOffset();
        Assert.InRange(nextRunAt, TimeProvider.System.GetUtcNow().AddMinutes(-1), TimeProvider.System.GetUtcNow().AddMinutes(1));

        using var get = await Http.GetAsync($"/api/work-items/tiered/{id}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var fetched = await ApiResponses.JsonAsync(get);
        Assert.Equal("second", fetched.GetProperty("tier").GetString());
        Assert.Equal(1, fetched.GetProperty("payload").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Put_WithoutTier_GetsTheShortestCadenceTier()
    {
        var id = NewId("default-tier");
        using var response = await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("first", (await ApiResponses.JsonAsync(response)).GetProperty("tier").GetString());
    }

    [Fact]
    public async Task Put_ExistingItemWithNewTier_UpdatesItAndNeverDuplicates()
    {
        var id = NewId("retier");
        (await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "second" })).EnsureSuccessStatusCode();

        using var response = await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "first" });

        Assert.Equal("first", (await ApiResponses.JsonAsync(response)).GetProperty("tier").GetString());
        var page = await fixture.Node.Store.ListAsync(new(DataType: "tiered", State: null, Tier: null, Page: 1, PageSize: 1000), CancellationToken.None);
        Assert.Single(page.Items, i => i.EntityId == id);
    }

    [Fact]
    public async Task EntityIdWithSlash_RegisteredInBulk_IsReachableByItsEscapedId()
    {
        var id = $"BRK/B-{Guid.NewGuid():N}";
        (await Http.PostAsJsonAsync("/api/work-items", new { dataType = "plain", items = new[] { new { entityId = id } } })).EnsureSuccessStatusCode();

        using var get = await Http.GetAsync($"/api/work-items/plain/{Uri.EscapeDataString(id)}");
        using var put = await Http.PutAsJsonAsync($"/api/work-items/plain/{Uri.EscapeDataString(id)}", new { });

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(id, (await ApiResponses.JsonAsync(put)).GetProperty("entityId").GetString());
        var page = await fixture.Node.Store.ListAsync(new(DataType: "plain", State: null, Tier: null, Page: 1, PageSize: 1000), CancellationToken.None);
        Assert.DoesNotContain(page.Items, i => i.EntityId.Contains("%2F", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task EntityIdWithSpace_EscapedInThePath_IsStoredDecoded()
    {
        var id = $"ACME Corp {Guid.NewGuid():N}";
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{Uri.EscapeDataString(id)}", new { });

        Assert.Equal(id, (await ApiResponses.JsonAsync(response)).GetProperty("entityId").GetString());
        using var get = await Http.GetAsync($"/api/work-items/plain/{Uri.EscapeDataString(id)}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    // --- many items: POST ---

    [Fact]
    public async Task Post_MalformedJson_Returns400WithLineAndPosition()
    {
        using var response = await Http.PostAsync("/api/work-items", Json("{\"dataType\": \"plain\", \"items\": [ {\"entityId\": \"a\"} "));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", detail);
        Assert.Matches(@"line \d+, position \d+", detail);
    }

    [Fact]
    public async Task Post_MissingDataType_Returns400NamingTheField()
    {
        using var response = await Http.PostAsJsonAsync("/api/work-items", new { items = new[] { new { entityId = "a" } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("dataType", detail);
    }

    [Fact]
    public async Task Post_UnknownDataType_Returns400NamingItAndListingConfiguredOnes()
    {
        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "no-such-type", items = new[] { new { entityId = "a" } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("no-such-type", detail);
        Assert.Contains("bulk, plain, tiered", detail);
    }

    [Theory]
    [InlineData("{\"dataType\": \"plain\", \"items\": []}")]
    [InlineData("{\"dataType\": \"plain\"}")]
    public async Task Post_EmptyOrMissingItems_Returns400NamingItems(string body)
    {
        using var response = await Http.PostAsync("/api/work-items", Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items", detail);
    }

    [Fact]
    public async Task Post_ItemMissingEntityId_Returns400NamingItsIndexAndRegistersNothing()
    {
        var good = NewId("good");
        using var response = await Http.PostAsJsonAsync("/api/work-items",
            new { dataType = "plain", items = new object[] { new { entityId = good }, new { tier = (string?)null } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[1].entityId", detail);
        using var get = await Http.GetAsync($"/api/work-items/plain/{good}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode); // a rejected request registers none of its items
    }

    [Fact]
    public async Task Post_NullItem_Returns400NamingItsIndex()
    {
        using var response = await Http.PostAsync("/api/work-items", Json("{\"dataType\": \"plain\", \"items\": [{\"entityId\": \"a\"}, null]}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[1]", detail);
    }

    [Fact]
    public async Task Post_DuplicateEntityIds_Returns400NamingTheDuplicate()
    {
        var dup = NewId("dup");
        using var response = await Http.PostAsJsonAsync("/api/work-items",
            new { dataType = "plain", items = new[] { new { entityId = dup }, new { entityId = NewId("other") }, new { entityId = dup } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[2].entityId", detail);
        Assert.Contains(dup, detail);
        using var get = await Http.GetAsync($"/api/work-items/plain/{dup}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Post_UnknownTierOnOneItem_Returns400NamingItemAndAllowedTiers()
    {
        using var response = await Http.PostAsJsonAsync("/api/work-items",
            new { dataType = "tiered", items = new[] { new { entityId = NewId("a"), tier = "first" }, new { entityId = NewId("b"), tier = "gold" } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[1].tier", detail);
        Assert.Contains("gold", detail);
        Assert.Contains("first, second, exclude", detail);
    }

    [Fact]
    public async Task Post_PayloadOver64KiB_Returns400NamingTheItemAndTheLimit()
    {
        var id = NewId("big");
        var payload = new { blob = new string('z', 64 * 1024) };
        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "plain", items = new[] { new { entityId = id, payload } } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[0].payload", detail);
        Assert.Contains("65536", detail);
        using var get = await Http.GetAsync($"/api/work-items/plain/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_PayloadOver64KiB_Returns400NamingTheLimit()
    {
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{NewId("big")}", new { payload = new { blob = new string('z', 64 * 1024) } });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("payload", detail);
        Assert.Contains("65536", detail);
    }

    [Fact]
    public async Task Post_MoreThanTenThousandItems_Returns400NamingTheLimit()
    {
        var items = Enumerable.Range(0, 10_001).Select(i => new { entityId = $"too-many-{i}" });

        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "plain", items });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("10001", detail);
        Assert.Contains("10000", detail);
    }

    [Fact]
    public async Task Post_TwoThousandItems_AcceptsAllAndPagesThemStably()
    {
        var items = Enumerable.Range(0, 2000).Select(i => new { entityId = $"bulk-{i:D4}", payload = new { i } }).ToArray();

        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "bulk", items });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"accepted":2000}""", await response.Content.ReadAsStringAsync());

        var page1 = await ApiResponses.JsonAsync(await Http.GetAsync("/api/work-items?dataType=bulk&pageSize=1000&page=1"));
        var page2 = await ApiResponses.JsonAsync(await Http.GetAsync("/api/work-items?dataType=bulk&pageSize=1000&page=2"));
        var page3 = await ApiResponses.JsonAsync(await Http.GetAsync("/api/work-items?dataType=bulk&pageSize=1000&page=3"));
        string[] Ids(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("entityId").GetString()!).ToArray();

        Assert.Equal(2000, page2.GetProperty("total").GetInt64());
        Assert.Equal(2, page2.GetProperty("page").GetInt32());
        Assert.Equal(1000, page2.GetProperty("pageSize").GetInt32());
        Assert.Equal(1000, Ids(page1).Length);
        Assert.Equal(1000, Ids(page2).Length);
        Assert.Empty(Ids(page3));
        Assert.Empty(Ids(page1).Intersect(Ids(page2)));
        Assert.Equal(items.Select(i => i.entityId).Order(StringComparer.Ordinal), Ids(page1).Concat(Ids(page2)).Order(StringComparer.Ordinal));
        Assert.All(page2.GetProperty("items").EnumerateArray(), i => Assert.Equal("bulk", i.GetProperty("dataType").GetString()));
    }

    // --- listing ---

    [Fact]
    public async Task List_UnknownState_Returns400ListingTheStates()
    {
        using var response = await Http.GetAsync("/api/work-items?state=sleeping");

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("sleeping", detail);
        Assert.Contains("never_run, in_flight, completed, retrying, deferred, dead_lettered, expired", detail);
    }

    [Fact]
    public async Task List_UnknownDataType_Returns400NamingIt()
    {
        using var response = await Http.GetAsync("/api/work-items?dataType=no-such-type");

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("no-such-type", detail);
    }

    [Theory]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=5000", "pageSize")]
    [InlineData("page=0", "page")]
    public async Task List_PageOutOfRange_Returns400NamingTheParameter(string query, string parameter)
    {
        using var response = await Http.GetAsync($"/api/work-items?{query}");

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(parameter, detail);
    }

    [Theory]
    [InlineData("/api/work-items?pageSize=lots", "pageSize")]
    [InlineData("/api/work-items?page=99999999999", "page")]
    [InlineData("/api/failures?done=maybe", "done")]
    public async Task List_UnparsableQueryValue_Returns400NamingTheParameter(string uri, string parameter)
    {
        using var response = await Http.GetAsync(uri);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(parameter, detail);
    }

    [Fact]
    public async Task List_StateAndTierFilters_ReturnOnlyMatchingItems()
    {
        var excluded = NewId("excluded");
        (await Http.PutAsJsonAsync($"/api/work-items/tiered/{excluded}", new { tier = "exclude" })).EnsureSuccessStatusCode();

        var page = await ApiResponses.JsonAsync(await Http.GetAsync("/api/work-items?dataType=tiered&tier=exclude&state=never_run&pageSize=1000"));

        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Contains(items, i => i.GetProperty("entityId").GetString() == excluded);
        Assert.All(items, i => Assert.Equal("exclude", i.GetProperty("tier").GetString()));
        Assert.All(items, i => Assert.Equal("never_run", i.GetProperty("state").GetString()));
    }

    // --- one item: GET, DELETE, run ---

    [Theory]
    [InlineData("GET", "")]
    [InlineData("DELETE", "")]
    [InlineData("POST", "/run")]
    public async Task MissingItem_GetDeleteOrRun_Returns404NamingIt(string method, string suffix)
    {
        var id = NewId("missing");
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/api/work-items/plain/{id}{suffix}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.NotFound);
        Assert.Contains(id, detail);
        Assert.Contains("plain", detail);
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("DELETE", "")]
    [InlineData("POST", "/run")]
    public async Task UnknownDataType_GetDeleteOrRun_Returns404NamingIt(string method, string suffix)
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/api/work-items/no-such-type/a{suffix}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("no-such-type", detail);
    }

    [Fact]
    public async Task Delete_ExistingItem_Returns204ThenGetReturns404()
    {
        var id = NewId("delete");
        (await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "first" })).EnsureSuccessStatusCode();

        using var response = await Http.DeleteAsync($"/api/work-items/tiered/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var get = await Http.GetAsync($"/api/work-items/tiered/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        using var again = await Http.DeleteAsync($"/api/work-items/tiered/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task RunNow_ExistingItem_Returns202WithTheItemDueNow()
    {
        var id = NewId("run");
        (await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "second" })).EnsureSuccessStatusCode();
        var before = TimeProvider.System.GetUtcNow();

        using var response = await Http.PostAsync($"/api/work-items/tiered/{id}/run", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/work-items/tiered/{id}", response.Headers.Location?.OriginalString);
        var item = await ApiResponses.JsonAsync(response);
        Assert.Equal(id, item.GetProperty("entityId").GetString());
        // Either the run-now (due now) or, once it has fired, the next cadence a day after that run.
        var next = item.GetProperty("nextRunAt");
        if (next.ValueKind != JsonValueKind.Null)
            Assert.True(next.GetDateTimeOffset() < before.AddMinutes(1) || next.GetDateTimeOffset() > before.AddHours(23), $"nextRunAt {next}");
    }

    [Fact]
    public async Task RunNow_ExcludedItem_Returns409NamingTheTier_AndArmsNothing()
    {
        var id = NewId("run-excluded");
        (await Http.PutAsJsonAsync($"/api/work-items/tiered/{id}", new { tier = "exclude" })).EnsureSuccessStatusCode();

        using var response = await Http.PostAsync($"/api/work-items/tiered/{id}/run", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("tier 'exclude'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null((await fixture.Node.ItemAsync("tiered", id))!.NextRunAt);
    }

    // --- robustness ---

    [Fact]
    public async Task BadInput_ManyMalformedRequestsAtOnce_NodeKeepsAnswering()
    {
        var huge = new string('x', 5000);
        var requests = new List<Func<HttpRequestMessage>>
        {
            () => new(HttpMethod.Put, "/api/work-items/plain/a") { Content = Json("{{{{") },
            () => new(HttpMethod.Put, "/api/work-items/plain/a") { Content = new ByteArrayContent([0xFF, 0xFE, 0x00, 0x7B]) { Headers = { ContentType = new("application/json") } } },
            () => new(HttpMethod.Put, "/api/work-items/plain/a") { Content = Json("[1,2,3]") },
            () => new(HttpMethod.Put, "/api/work-items/plain/a") { Content = Json("\"just a string\"") },
            () => new(HttpMethod.Put, $"/api/work-items/plain/{huge}") { Content = Json("{}") },
            () => new(HttpMethod.Put, "/api/work-items/plain/%00%01") { Content = Json("{}") },
            () => new(HttpMethod.Post, "/api/work-items") { Content = Json("{\"dataType\": 42}") },
            () => new(HttpMethod.Post, "/api/work-items") { Content = Json("{\"dataType\": \"plain\", \"items\": {}}") },
            () => new(HttpMethod.Post, "/api/work-items") { Content = Json(new string('[', 10_000)) },
            () => new(HttpMethod.Get, "/api/work-items?page=-1&pageSize=-1"),
            () => new(HttpMethod.Get, "/api/work-items?page=99999999999"),
            () => new(HttpMethod.Get, "/api/failures?done=maybe"),
            () => new(HttpMethod.Post, "/api/failures/not-a-number/done"),
        };

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).SelectMany(_ => requests).Select(async make =>
        {
            using var request = make();
            using var response = await Http.SendAsync(request);
            return (Request: $"{request.Method} {request.RequestUri}", Status: (int)response.StatusCode);
        }));

        Assert.All(responses, r => Assert.True(r.Status is >= 400 and < 500, $"{r.Request} should get a 4xx, got {r.Status}"));
        using var health = await Http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var liveness = await Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
    }

    // --- runAt ---

    [Theory]
    [InlineData("2026-11-23T08:00:00")]
    [InlineData("tomorrow")]
    [InlineData("2026-11-23")]
    [InlineData("2026-13-23T08:00:00Z")]
    public async Task Put_RunAtWithoutOffsetOrUnparsable_Returns400NamingRunAt(string runAt)
    {
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{NewId("runat")}", new { runAt });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("body.runAt", detail);
        Assert.Contains("offset", detail);
    }

    [Fact]
    public async Task Put_RunAtDecadesAhead_Returns400SayingTheLimit()
    {
        using var response = await Http.PutAsJsonAsync($"/api/work-items/plain/{NewId("runat")}", new { runAt = "2226-11-23T08:00:00Z" });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("body.runAt", detail);
        Assert.Contains("days ahead", detail);
    }

    [Fact]
    public async Task Post_ItemWithBadRunAt_Returns400NamingItsIndexAndRegistersNone()
    {
        var good = NewId("runat-good");
        var items = new object[]
        {
            new { entityId = good, runAt = "2026-11-23T08:00:00+02:00" },
            new { entityId = NewId("runat-a") },
            new { entityId = NewId("runat-a") },
            new { entityId = NewId("runat-bad"), runAt = "23/11/2026 08:00" },
        };

        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "plain", items });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[3].runAt", detail);
        using var item = await Http.GetAsync($"/api/work-items/plain/{good}");
        Assert.Equal(HttpStatusCode.NotFound, item.StatusCode);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Api;

/// <summary>An API-only node on one provider, shared by the text-rule tests of that provider.</summary>
public abstract class TextRulesFixture : IAsyncLifetime
{
    private readonly SqliteTestDatabase _sqlite = new();
    private PostgresTestDatabase? _postgres;

    protected abstract StorageProvider Provider { get; }

    internal TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _postgres = Provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        Node = await TestNode.StartAsync(Provider, _postgres?.ConnectionString ?? _sqlite.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
            ["DataTypes:plain:Executor"] = "noop",
            ["DataTypes:tiered:Executor"] = "noop",
            ["DataTypes:tiered:Cadence:first"] = "01:00:00",
            ["DataTypes:stored:Executor"] = "noop",
        });
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
            await Node.DisposeAsync();
        if (_postgres is not null)
            await _postgres.DisposeAsync();
        _sqlite.Dispose();
    }
}

public sealed class SqliteTextRulesFixture : TextRulesFixture
{
    protected override StorageProvider Provider => StorageProvider.Sqlite;
}

public sealed class PostgresTextRulesFixture : TextRulesFixture
{
    protected override StorageProvider Provider => StorageProvider.Postgres;
}

[Trait("Provider", "Sqlite")]
public sealed class TextRulesSqliteTests(SqliteTextRulesFixture fixture) : TextRulesTests(fixture), IClassFixture<SqliteTextRulesFixture>;

[Trait("Provider", "Postgres")]
public sealed class TextRulesPostgresTests(PostgresTextRulesFixture fixture) : TextRulesTests(fixture), IClassFixture<PostgresTextRulesFixture>;

/// <summary>
/// The one text rule (docs/security.md, "Text"): ids, tiers, payloads, queries, cursors and batch
/// records are checked at the edge with a 400 or an error-file line naming the field; nothing
/// invalid is stored; text stored before the rule is still answered as valid JSON.
/// </summary>
public abstract class TextRulesTests(TextRulesFixture fixture)
{
    private HttpClient Http => fixture.Node.Http;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    // --- payloads ---

    [Theory]
    [InlineData("""{"payload":{"s":"\udfff"}}""", "payload.s")]
    [InlineData("""{"payload":{"s":"ok","a":[1,"\ud800x"]}}""", "payload.a[1]")]
    [InlineData("""{"payload":{"deep":{"n":"a\u0000b"}}}""", "payload.deep.n")]
    [InlineData("""{"payload":"\udc00"}""", "payload")]
    public async Task Put_PayloadWithUnstorableText_Returns400NamingTheField_AndStoresNothing(string body, string field)
    {
        var id = NewId("payload");
        using var response = await Http.PutAsync($"/api/work-items/plain/{id}", Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(field, detail, StringComparison.Ordinal);
        Assert.Null(await fixture.Node.ItemAsync("plain", id));
    }

    [Fact]
    public async Task Post_PayloadWithLoneSurrogate_Returns400NamingTheItem_AndRegistersNothing()
    {
        var (good, bad) = (NewId("good"), NewId("bad"));
        using var response = await Http.PostAsync("/api/work-items",
            Json($$$"""{"dataType":"plain","items":[{"entityId":"{{{good}}}"},{"entityId":"{{{bad}}}","payload":{"name":"\udfff"}}]}"""));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[1].payload.name", detail, StringComparison.Ordinal);
        Assert.Null(await fixture.Node.ItemAsync("plain", good));
        Assert.Null(await fixture.Node.ItemAsync("plain", bad));
    }

    [Fact]
    public async Task Reads_RowsStoredWithBrokenPayloadText_AnswerValidJson()
    {
        // Rows as an older version (or a hand-written UPDATE) could leave them: a lone surrogate escape, and text that is not JSON.
        var prefix = $"old{Guid.NewGuid():N}"[..12];
        var (surrogate, notJson) = ($"{prefix}-a", $"{prefix}-b");
        foreach (var id in new[] { surrogate, notJson })
            (await Http.PutAsync($"/api/work-items/stored/{id}", Json("{}"))).EnsureSuccessStatusCode();
        await SetPayloadAsync("stored", surrogate, """{"s":"\udfff","t":"kept"}""");
        await SetPayloadAsync("stored", notJson, "not json");

        using var get = await Http.GetAsync($"/api/work-items/stored/{surrogate}");
        var item = await ApiResponses.JsonAsync(get);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("\uFFFD", item.GetProperty("payload").GetProperty("s").GetString());
        Assert.Equal("kept", item.GetProperty("payload").GetProperty("t").GetString());

        using var other = await Http.GetAsync($"/api/work-items/stored/{notJson}");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal("not json", (await ApiResponses.JsonAsync(other)).GetProperty("payload").GetString());

        foreach (var uri in new[] { $"/api/work-items?dataType=stored&q={prefix}&limit=10", "/api/work-items?dataType=stored&pageSize=1000" })
        {
            using var list = await Http.GetAsync(uri);
            var page = await ApiResponses.JsonAsync(list);
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            var ids = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("entityId").GetString()).ToList();
            Assert.Contains(surrogate, ids);
            Assert.Contains(notJson, ids);
        }
    }

    private async Task SetPayloadAsync(string dataType, string entityId, string payload)
    {
        await using var connection = await fixture.Node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        await using var command = connection.Command("UPDATE work_items SET payload = @p WHERE data_type = @d AND entity_id = @e")
            .With("@p", payload).With("@d", dataType).With("@e", entityId);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    // --- entity ids ---

    public static TheoryData<string, string?> EntityIds() => new()
    {
        { "..", "path segment" },
        { ".", "path segment" },
        { "a%2Fb", "%2F" },
        { "a%2fb", "%2F" },
        { " lead", "whitespace" },
        { "trail ", "whitespace" },
        { "\u00A0nbsp", "whitespace" },
        { "line\u2028sep", "U+2028" },
        { "para\u2029sep", "U+2029" },
        { "\uFEFFbom", "U+FEFF" },
        { "zero\u200Bwidth", "U+200B" },
        { "bell\u0007", "U+0007" },
        { "nul\u0000", "U+0000" },
        { "del\u007F", "U+007F" },
        // Kept working: a slash (written %2F in a URL), dots inside, other punctuation, non-Latin text.
        { "BRK/B", null },
        { "a.b", null },
        { "...", null },
        { "a%20b", null },
        { "Zürich 東京 \U0001F600", null },
    };

    [Theory]
    [MemberData(nameof(EntityIds))]
    public async Task Post_EntityId_IsRefusedNamingTheFieldAndTheReason_OrAddressable(string suffix, string? reason)
    {
        var id = reason is null ? $"{suffix}-{Guid.NewGuid():N}" : suffix;
        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "tiered", items = new[] { new { entityId = id } } });

        if (reason is null)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var get = await Http.GetAsync($"/api/work-items/tiered/{Uri.EscapeDataString(id)}");
            Assert.Equal(id, (await ApiResponses.JsonAsync(get)).GetProperty("entityId").GetString());
            using var delete = await Http.DeleteAsync($"/api/work-items/tiered/{Uri.EscapeDataString(id)}");
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
            return;
        }
        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("items[0].entityId", detail, StringComparison.Ordinal);
        Assert.Contains(reason, detail, StringComparison.Ordinal);
        var page = await fixture.Node.Store.ListAsync(new("tiered", null, null, 1, 1000), CancellationToken.None);
        Assert.DoesNotContain(page.Items, i => i.EntityId == id);
    }

    [Theory]
    [InlineData("%20lead", "whitespace")]
    [InlineData("trail%20", "whitespace")]
    [InlineData("line%E2%80%A8sep", "U+2028")]
    [InlineData("%EF%BB%BFbom", "U+FEFF")]
    [InlineData("ta%09b", "U+0009")]
    public async Task Put_EntityIdBreakingTheRule_Returns400NamingIt(string escaped, string reason)
    {
        using var response = await Http.PutAsync($"/api/work-items/tiered/{escaped}", Json("{}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("entityId", detail, StringComparison.Ordinal);
        Assert.Contains(reason, detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("DELETE", "")]
    [InlineData("POST", "/run")]
    public async Task AddressingRoutes_EntityIdOverTheLimit_Return400NamingIt(string method, string suffix)
    {
        // (A NUL in a path never reaches a route: Kestrel refuses the request line.)
        using var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/api/work-items/plain/{new string('x', 201)}{suffix}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("entityId", detail, StringComparison.Ordinal);
        Assert.Contains("200", detail, StringComparison.Ordinal);
    }

    // --- tiers and data types ---

    [Theory]
    [InlineData("""{"tier":"a\u0000b"}""", "U+0000")]
    [InlineData("""{"tier":"li\u2028ne"}""", "U+2028")]
    [InlineData("""{"tier":" padded"}""", "whitespace")]
    public async Task Put_TierBreakingTheRule_Returns400NamingIt(string body, string reason)
    {
        // plain has no tiers, so any tier name is taken as it is: the text rule is all that stands in the way.
        var id = NewId("tier");
        using var response = await Http.PutAsync($"/api/work-items/plain/{id}", Json(body));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("tier", detail, StringComparison.Ordinal);
        Assert.Contains(reason, detail, StringComparison.Ordinal);
        Assert.Null(await fixture.Node.ItemAsync("plain", id));
    }

    // --- queries and cursors ---

    public static TheoryData<string, string> BadQueries() => new()
    {
        { "/api/work-items?q=a%00b", "q" },
        { "/api/work-items?q=" + new string('x', 201), "200" },
        { "/api/work-items?tier=a%00b", "tier" },
        { "/api/work-items?after=" + Cursor("plain\na\0b"), "after" },
        { "/api/work-items?after=" + Cursor("pl\0ain\nab"), "after" },
        { "/api/work-items?after=" + new string('A', 4000), "2048" },
        { "/api/work-items?dataType=a%00b", "dataType" },
        { "/api/failures?entityId=a%00b", "entityId" },
        { "/api/failures?dataType=plain&entityId=" + new string('x', 201), "200" },
    };

    private static string Cursor(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task List_QueryValueBreakingTheRule_Returns400NamingIt(string uri, string named)
    {
        using var response = await Http.GetAsync(uri);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(named, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MarkAllDone_EntityIdWithNul_Returns400NamingIt()
    {
        using var response = await Http.PostAsync("/api/failures/done?entityId=a%00b", Json("{}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("entityId", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/errors")]
    [InlineData("/cancel")]
    public async Task BatchRoutes_IdOverTheLimit_Return400NamingIt(string suffix)
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(suffix == "/cancel" ? HttpMethod.Post : HttpMethod.Get, $"/api/batches/{new string('a', 65)}{suffix}"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("id is 65 characters long; the limit is 64", detail, StringComparison.Ordinal);
    }

    // --- batch records ---

    [Fact]
    public async Task BatchUpload_RecordsBreakingTheRule_EachGetAnErrorLine_AndTheRestIsTaken()
    {
        var prefix = $"b{Guid.NewGuid():N}"[..12];
        string[] lines =
        [
            $$"""{"entityId":"{{prefix}}-1","n":"\ud83d\ude00\t"}""",
            """{"entityId":"nul\u0000id"}""",
            """{"entityId":"x\udfff"}""",
            $$"""{"entityId":"{{prefix}}-4","s":"\udfff"}""",
            $$"""{"entityId":"{{prefix}}-5","s":"a\u0000"}""",
            $$"""{"entityId":"{{prefix}}-6","\udc00":1}""",
            $$"""{"entityId":"{{prefix}}-7","tier":"a\u0000"}""",
            """{"entityId":".."}""",
            $$"""{"entityId":" {{prefix}}-9"}""",
            $$"""{"entityId":"{{prefix}}-10","dataType":"pl\u0000ain"}""",
            $$"""{"entityId":"{{prefix}}-11","n":11}""",
        ];
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");

        using var response = await Http.PostAsync("/api/batches?dataType=plain", content);
        var batch = await ApiResponses.JsonAsync(response);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(11, batch.GetProperty("total").GetInt32());
        Assert.Equal(9, batch.GetProperty("invalid").GetInt32());

        using var errorsResponse = await Http.GetAsync($"/api/batches/{batch.GetProperty("id").GetString()}/errors");
        var errors = (await ApiResponses.JsonAsync(errorsResponse)).EnumerateArray()
            .ToDictionary(e => e.GetProperty("line").GetInt64(), e => e.GetProperty("reason").GetString()!);
        Assert.Equal([2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L], errors.Keys.Order());
        Assert.Contains("entityId", errors[2], StringComparison.Ordinal);
        Assert.Contains("U+0000", errors[2], StringComparison.Ordinal);
        Assert.Contains("entityId", errors[3], StringComparison.Ordinal);
        Assert.Contains("surrogate", errors[3], StringComparison.Ordinal);
        Assert.Contains("payload.s", errors[4], StringComparison.Ordinal);
        Assert.Contains("payload.s", errors[5], StringComparison.Ordinal);
        Assert.Contains("surrogate", errors[6], StringComparison.Ordinal);
        Assert.Contains("tier", errors[7], StringComparison.Ordinal);
        Assert.Contains("path segment", errors[8], StringComparison.Ordinal);
        Assert.Contains("whitespace", errors[9], StringComparison.Ordinal);
        Assert.Contains("dataType", errors[10], StringComparison.Ordinal);
    }

    [Fact]
    public async Task BatchUpload_CsvFieldsWithNul_EachGetAnErrorLine()
    {
        var prefix = $"c{Guid.NewGuid():N}"[..12];
        var csv = $"entityId,note\n{prefix}-1,fine\n{prefix}\0-2,x\n{prefix}-3,x\0y\n{prefix}-4,fine\n";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");

        using var response = await Http.PostAsync("/api/batches?dataType=plain", content);
        var batch = await ApiResponses.JsonAsync(response);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(4, batch.GetProperty("total").GetInt32());
        Assert.Equal(2, batch.GetProperty("invalid").GetInt32());

        using var errorsResponse = await Http.GetAsync($"/api/batches/{batch.GetProperty("id").GetString()}/errors");
        var errors = (await ApiResponses.JsonAsync(errorsResponse)).EnumerateArray().ToDictionary(e => e.GetProperty("line").GetInt64());
        Assert.Equal([3L, 4L], errors.Keys.Order());
        Assert.Contains("entityId contains U+0000", errors[3].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal($"{prefix}\uFFFD-2", errors[3].GetProperty("entityId").GetString()); // shown, with what cannot be stored replaced
        Assert.Contains("payload.note contains U+0000", errors[4].GetProperty("reason").GetString(), StringComparison.Ordinal);
    }
}

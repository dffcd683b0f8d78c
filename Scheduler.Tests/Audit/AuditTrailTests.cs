using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Audit;

/// <summary>
/// Every changing request to /api is a row of the audit trail with the caller's name: the key's
/// <c>Name</c>, or <c>loopback</c> without keys; what a handler notes (count, target, detail) lands in it;
/// refusals of a caller with a key are rows too; callers without a valid key add none.
/// </summary>
public sealed class AuditTrailTests
{
    private const string AliceKey = "alice-admin-key-0123";
    private const string BobKey = "bob-viewer-key-0123";
    private const string UnnamedKey = "unnamed-admin-key-0123";

    private static Dictionary<string, string?> KeyedSettings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:t:Executor"] = "noop",
        ["Admin:ApiKeys:0:Key"] = AliceKey,
        ["Admin:ApiKeys:0:Role"] = "admin",
        ["Admin:ApiKeys:0:Name"] = "ops-alice",
        ["Admin:ApiKeys:1:Key"] = BobKey,
        ["Admin:ApiKeys:1:Role"] = "viewer",
        ["Admin:ApiKeys:1:Name"] = "viewer-bob",
        ["Admin:ApiKeys:2:Key"] = UnnamedKey,
        ["Admin:ApiKeys:2:Role"] = "admin",
    };

    private static async Task<HttpResponseMessage> SendAsync(TestNode node, HttpMethod method, string path, string? key, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
            request.Headers.Add("X-Api-Key", key);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        else if (method == HttpMethod.Post)
            request.Headers.Add("X-Requested-With", "test");
        return await node.Http.SendAsync(request);
    }

    private static async Task<HttpStatusCode> StatusAsync(TestNode node, HttpMethod method, string path, string? key, string? json = null)
    {
        using var response = await SendAsync(node, method, path, key, json);
        return response.StatusCode;
    }

    /// <summary>The newest <paramref name="limit"/> rows, as a viewer reads them.</summary>
    private static async Task<List<JsonElement>> AuditAsync(TestNode node, string? key, string query = "limit=100")
    {
        using var response = await SendAsync(node, HttpMethod.Get, $"/api/audit?{query}", key);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/audit?{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await ApiResponses.JsonAsync(response)).EnumerateArray().ToList();
    }

    /// <summary>The URL of a Link header's rel="next", checked to keep the page size.</summary>
    private static string NextLink(string link)
    {
        var match = System.Text.RegularExpressions.Regex.Match(link, "^<(?<url>[^>]+)>; rel=\"next\"$");
        Assert.True(match.Success, $"Link header: {link}");
        var url = match.Groups["url"].Value;
        Assert.StartsWith("/api/audit?", url, StringComparison.Ordinal);
        Assert.Contains("limit=10", url, StringComparison.Ordinal);
        return url;
    }

    private static string Row(JsonElement row) =>
        $"{row.GetProperty("who").GetString()} {row.GetProperty("action").GetString()} {row.GetProperty("target").GetString()} "
        + $"{(row.GetProperty("count").ValueKind == JsonValueKind.Null ? "-" : row.GetProperty("count").GetInt64())} {row.GetProperty("status").GetInt32()}";

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ChangingRequests_WithNamedKeys_AreRowsNamingTheKey(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString, KeyedSettings());

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/AAPL", AliceKey, "{}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Post, "/api/data-types/t/pause", AliceKey, """{"reason":"vendor outage"}"""));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Post, "/api/work-items/t/AAPL/pause", AliceKey, """{"reason":"review"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/MSFT", BobKey, "{}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Post, "/api/work-items", UnnamedKey,
            """{"dataType":"t","items":[{"entityId":"b1"},{"entityId":"b2"},{"entityId":"b3"}]}"""));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(node, HttpMethod.Delete, "/api/work-items/t/nobody", AliceKey));
        Assert.Equal(HttpStatusCode.NoContent, await StatusAsync(node, HttpMethod.Delete, "/api/work-items/t/b1", UnnamedKey));
        // Without a valid key: refused, and not a row (anyone could otherwise fill the table).
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/anon", null, "{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/anon", "not-a-key-at-all", "{}"));
        // Reads are not rows.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Get, "/api/work-items/t/AAPL", BobKey));

        var rows = await AuditAsync(node, BobKey);

        Assert.Equal(
            [
                "key-2 DELETE /api/work-items/{dataType}/{entityId} t/b1 - 204",
                "ops-alice DELETE /api/work-items/{dataType}/{entityId} t/nobody - 404",
                "key-2 POST /api/work-items t 3 200",
                "viewer-bob PUT /api/work-items/{dataType}/{entityId} t/MSFT - 403",
                "ops-alice POST /api/work-items/{dataType}/{entityId}/pause t/AAPL - 200",
                "ops-alice POST /api/data-types/{dataType}/pause t - 200",
                "ops-alice PUT /api/work-items/{dataType}/{entityId} t/AAPL - 200",
            ],
            rows.Select(Row));
        var first = rows[^1];
        Assert.Equal(node.App.Services.GetRequiredService<BatchScheduler.Configuration.NodeIdentity>().Id, first.GetProperty("node").GetString());
        var at = first.GetProperty("at").GetDateTimeOffset();
        Assert.Equal(TimeSpan.Zero, at.Offset);
        Assert.InRange(TimeProvider.System.GetUtcNow() - at, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Assert.True(rows.Select(r => r.GetProperty("id").GetInt64()).SequenceEqual(rows.Select(r => r.GetProperty("id").GetInt64()).OrderDescending()), "newest first");

        // What already recorded "who" shows the key's name too.
        using var types = await SendAsync(node, HttpMethod.Get, "/api/data-types", BobKey);
        Assert.Equal("ops-alice", (await ApiResponses.JsonAsync(types)).EnumerateArray().Single().GetProperty("pausedBy").GetString());
        using var item = await SendAsync(node, HttpMethod.Get, "/api/work-items/t/AAPL", BobKey);
        Assert.Equal("ops-alice", (await ApiResponses.JsonAsync(item)).GetProperty("paused").GetProperty("by").GetString());
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ChangingRequests_FromLoopbackWithoutKeys_AreRowsByLoopback_WithTheHandlersNotes(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString,
            new Dictionary<string, string?> { ["Cluster:Role"] = "api", ["DataTypes:t:Executor"] = "noop" });

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/one", null, "{}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Post, "/api/failures/done?dataType=t", null));
        using var batch = new HttpRequestMessage(HttpMethod.Post, "/api/batches?dataType=t")
        {
            Content = new StringContent("{\"entityId\":\"f1\"}\n{\"entityId\":\"f2\"}\n{\"nope\":1}\n", Encoding.UTF8, "application/x-ndjson"),
        };
        using var submitted = await node.Http.SendAsync(batch);
        Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
        var batchId = (await ApiResponses.JsonAsync(submitted)).GetProperty("id").GetString();
        // A refused loopback request (a cross-site change) did not authenticate: no row.
        using var crossSite = new HttpRequestMessage(HttpMethod.Post, "/api/work-items/t/one/run");
        crossSite.Headers.TryAddWithoutValidation("Origin", "http://evil.example");
        using var refused = await node.Http.SendAsync(crossSite);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        var rows = await AuditAsync(node, null);

        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal("loopback", r.GetProperty("who").GetString()));
        Assert.Equal("POST /api/batches", rows[0].GetProperty("action").GetString());
        Assert.Equal($"batches/{batchId}", rows[0].GetProperty("target").GetString());
        Assert.Equal(3, rows[0].GetProperty("count").GetInt64());
        Assert.Equal("data type t, 1 invalid records", rows[0].GetProperty("detail").GetString());
        Assert.Equal(201, rows[0].GetProperty("status").GetInt32());
        Assert.Equal("POST /api/failures/done", rows[1].GetProperty("action").GetString());
        Assert.Equal("dataType=t", rows[1].GetProperty("target").GetString());
        Assert.Equal(0, rows[1].GetProperty("count").GetInt64());
        Assert.Equal("PUT /api/work-items/{dataType}/{entityId}", rows[2].GetProperty("action").GetString());
        Assert.Equal("t/one", rows[2].GetProperty("target").GetString());
        Assert.Equal(JsonValueKind.Null, rows[2].GetProperty("detail").ValueKind);
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AuditListing_PagedByCursor_VisitsEveryRowOnceNewestFirst_AndFilters(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString, KeyedSettings());
        for (var i = 0; i < 23; i++)
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Put, $"/api/work-items/t/p{i:00}", i % 2 == 0 ? AliceKey : UnnamedKey, "{}"));
        var between = TimeProvider.System.GetUtcNow();
        Assert.Equal(HttpStatusCode.NoContent, await StatusAsync(node, HttpMethod.Delete, "/api/work-items/t/p00", AliceKey));

        var seen = new List<string>();
        var ids = new List<long>();
        string? next = "/api/audit?limit=10";
        var pages = 0;
        do
        {
            using var response = await SendAsync(node, HttpMethod.Get, next, BobKey);
            var page = await ApiResponses.JsonAsync(response);
            Assert.True(page.GetArrayLength() <= 10);
            foreach (var row in page.EnumerateArray())
            {
                seen.Add(row.GetProperty("target").GetString()!);
                ids.Add(row.GetProperty("id").GetInt64());
            }
            // The next page is named by a Link header (RFC 8288) with the same filters; none on the last page.
            next = response.Headers.TryGetValues("Link", out var links) ? NextLink(Assert.Single(links)) : null;
            pages++;
        }
        while (next is not null && pages < 10);

        Assert.Equal(3, pages); // 24 rows, 10 a page
        Assert.Equal(["t/p00", .. Enumerable.Range(0, 23).Reverse().Select(i => $"t/p{i:00}")], seen);
        Assert.Equal(ids.OrderDescending(), ids);

        var byAlice = await AuditAsync(node, BobKey, "who=ops-alice");
        Assert.Equal(13, byAlice.Count);
        Assert.All(byAlice, r => Assert.Equal("ops-alice", r.GetProperty("who").GetString()));
        var deletes = await AuditAsync(node, BobKey, $"action={Uri.EscapeDataString("DELETE /api/work-items/{dataType}/{entityId}")}");
        Assert.Equal("t/p00", Assert.Single(deletes).GetProperty("target").GetString());
        var recent = await AuditAsync(node, BobKey, $"since={Uri.EscapeDataString(between.ToString("O"))}");
        Assert.Equal("t/p00", Assert.Single(recent).GetProperty("target").GetString());

        foreach (var bad in new[] { "after=abc", "after=0", "limit=0", "limit=1001", "since=yesterday" })
        {
            using var response = await SendAsync(node, HttpMethod.Get, $"/api/audit?{bad}", BobKey);
            var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
            Assert.Contains(bad[..bad.IndexOf('=')], detail, StringComparison.Ordinal);
        }
    }
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AuditWrite_Failing_NeitherFailsNorUndoesTheRequest_AndIsCounted(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString,
            new Dictionary<string, string?> { ["Cluster:Role"] = "api", ["DataTypes:t:Executor"] = "noop" });
        await using (var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None))
        await using (var drop = connection.CreateCommand())
        {
            drop.CommandText = "DROP TABLE audit_log";
            await drop.ExecuteNonQueryAsync();
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/kept", null, "{}"));
        Assert.Equal(HttpStatusCode.NoContent, await StatusAsync(node, HttpMethod.Delete, "/api/work-items/t/kept", null));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(node, HttpMethod.Put, "/api/work-items/t/kept", null, "{}"));

        Assert.NotNull(await node.ItemAsync("t", "kept"));
        var metrics = await BatchScheduler.Tests.Observability.MetricsScrape.GetAsync(node.Http);
        Assert.Equal(3, metrics.Samples["batchscheduler_audit_write_failures_total"]);
    }

    /// <summary>
    /// Issue 22's controls on two PostgreSQL nodes, each asked by a named key: a cancel of an item running on one node
    /// sent to the other, a bulk retry, a data type's pause; each is an audit row naming the key, the action, its
    /// target or filter and count, whichever node is asked for the trail; the viewer's refused bulk action is a 403 row.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task Issue22Controls_TwoNodes_AreAuditRowsNamingTheKey()
    {
        await using var postgres = await PostgresTestDatabase.CreateAsync();
        // One gate per node: the one that starts says which node runs the item.
        var (gateOne, gateTwo) = (new GateExecutor(), new GateExecutor());
        var settings = KeyedSettings();
        settings.Remove("Cluster:Role");
        settings["Cluster:CheckinInterval"] = "00:00:01";
        settings["DataTypes:hung:Executor"] = "gate";
        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, postgres.ConnectionString, settings, s => s.AddExecutor("gate", gateOne));
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, postgres.ConnectionString, settings, s => s.AddExecutor("gate", gateTwo));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(first, HttpMethod.Put, "/api/work-items/hung/stuck", AliceKey, "{}"));
        var started = await Task.WhenAny(gateOne.Started.Task, gateTwo.Started.Task).WaitAsync(TimeSpan.FromSeconds(30));
        var other = started == gateOne.Started.Task ? second : first;
        await first.WaitForStateAsync("hung", "stuck", BatchScheduler.WorkItems.WorkItemStates.InFlight);

        Assert.Equal(HttpStatusCode.Accepted, await StatusAsync(other, HttpMethod.Post, "/api/work-items/hung/stuck/cancel", AliceKey, """{"reason":"vendor hangs"}"""));
        await first.WaitForStateAsync("hung", "stuck", BatchScheduler.WorkItems.WorkItemStates.Paused);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(first, HttpMethod.Post, "/api/work-items/actions", AliceKey,
            """{"action":"resume","filter":{"dataType":"hung","state":"paused"}}"""));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(second, HttpMethod.Post, "/api/work-items/actions", BobKey,
            """{"action":"delete","filter":{"dataType":"hung"}}"""));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(second, HttpMethod.Post, "/api/data-types/t/pause", UnnamedKey, """{"reason":"vendor outage"}"""));

        foreach (var asked in new[] { first, second })
        {
            var rows = (await AuditAsync(asked, BobKey)).Select(Row).ToList();
            Assert.Equal(
            [
                "key-2 POST /api/data-types/{dataType}/pause t - 200",
                "viewer-bob POST /api/work-items/actions  - 403",
                "ops-alice POST /api/work-items/actions {\"dataType\":\"hung\",\"state\":\"paused\"} 1 200",
                "ops-alice POST /api/work-items/{dataType}/{entityId}/cancel hung/stuck 1 202",
                "ops-alice PUT /api/work-items/{dataType}/{entityId} hung/stuck - 200",
            ], rows);
        }
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Observability;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Api;

/// <summary>The work-item browser's keyset paging and entity search, and the charts' per-minute route.</summary>
public sealed class KeysetPagingTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:alpha:Executor"] = "noop",
        ["DataTypes:beta:Executor"] = "noop",
    };

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task PagingByCursor_VisitsEveryItemOnceInKeyOrder_AndSearchKeepsThePrefix(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString, Settings());
        foreach (var dataType in new[] { "alpha", "beta" })
        {
            using var response = await node.Http.PostAsJsonAsync("/api/work-items", new
            {
                dataType,
                items = Enumerable.Range(0, 12).Select(i => new { entityId = i % 3 == 0 ? $"AB_{i:00}" : $"x{i:00}" }),
            });
            response.EnsureSuccessStatusCode();
        }

        var seen = new List<string>();
        string? next = null;
        var pages = 0;
        do
        {
            var page = await node.Http.GetFromJsonAsync<JsonElement>($"/api/work-items?limit=10{(next is null ? "" : $"&after={next}")}");
            Assert.Equal(JsonValueKind.Null, page.GetProperty("total").ValueKind);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => $"{i.GetProperty("dataType").GetString()}/{i.GetProperty("entityId").GetString()}"));
            next = page.GetProperty("next").GetString();
            pages++;
        }
        while (next is not null && pages < 10);
        Assert.Equal(3, pages); // 24 items, 10 per page
        Assert.Equal(24, seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(24, seen.Distinct().Count());

        // Search: entity ids starting with "AB_" ('_' is not a wildcard), within one data type.
        var found = await node.Http.GetFromJsonAsync<JsonElement>("/api/work-items?dataType=beta&q=AB_&limit=3");
        Assert.Equal(["AB_00", "AB_03", "AB_06"], found.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("entityId").GetString()));
        var rest = await node.Http.GetFromJsonAsync<JsonElement>($"/api/work-items?dataType=beta&q=AB_&limit=3&after={found.GetProperty("next").GetString()}");
        Assert.Equal(["AB_09"], rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("entityId").GetString()));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("next").ValueKind);

        using var badCursor = await node.Http.GetAsync("/api/work-items?after=%%%");
        Assert.Contains("cursor", await ApiResponses.ProblemDetailAsync(badCursor, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        using var mixed = await node.Http.GetAsync("/api/work-items?page=2&limit=10");
        Assert.Contains("page", await ApiResponses.ProblemDetailAsync(mixed, HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheMinutelyRoute_ServesTheAggregate_AndRefusesBadFilters()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings());
        var stats = node.App.Services.GetRequiredService<MinuteStats>();
        stats.Record("alpha", FiringOutcome.Succeeded, TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(5));
        stats.Record("alpha", FiringOutcome.DeadLettered, TimeSpan.FromMilliseconds(80), TimeSpan.FromMilliseconds(5));
        stats.Record("beta", FiringOutcome.Succeeded, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(5));
        await stats.FlushAsync(CancellationToken.None);

        var rows = await node.Http.GetFromJsonAsync<List<JsonElement>>("/api/stats/minutely?dataType=alpha&hours=1");
        Assert.All(rows!, r => Assert.Equal("alpha", r.GetProperty("dataType").GetString()));
        Assert.Equal(2, rows!.Sum(r => r.GetProperty("executions").GetInt32()));
        Assert.Equal(1, rows!.Sum(r => r.GetProperty("deadLettered").GetInt32()));
        Assert.Equal(80, rows!.Max(r => r.GetProperty("delayMaxMs").GetInt64()));

        using var unknown = await node.Http.GetAsync("/api/stats/minutely?dataType=gamma");
        Assert.Contains("gamma", await ApiResponses.ProblemDetailAsync(unknown, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        using var tooLong = await node.Http.GetAsync("/api/stats/minutely?hours=500");
        Assert.Contains("hours", await ApiResponses.ProblemDetailAsync(tooLong, HttpStatusCode.BadRequest), StringComparison.Ordinal);
    }
}

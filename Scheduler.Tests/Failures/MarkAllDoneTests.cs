using System.Net;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Storage.Migrations;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Tests.Failures;

/// <summary>
/// <c>POST /api/failures/done?dataType=&amp;entityId=&amp;before=</c>: ops triage a whole class of
/// failures at once. Failure rows are written with fixed times through the store the coordinator
/// uses, on an API-only node (nothing executes, so no other failures appear).
/// </summary>
public sealed class MarkAllDoneTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:alpha:Executor"] = "noop",
        ["DataTypes:beta:Executor"] = "noop",
    };

    /// <summary>A node on a fresh database of the provider, and the database, disposed together.</summary>
    private sealed class Cluster(TestNode node, IAsyncDisposable? postgres, IDisposable? sqlite) : IAsyncDisposable
    {
        public TestNode Node { get; } = node;

        public static async Task<Cluster> StartAsync(StorageProvider provider)
        {
            if (provider == StorageProvider.Postgres)
            {
                var database = await PostgresTestDatabase.CreateAsync();
                return new Cluster(await TestNode.StartAsync(provider, database.ConnectionString, Settings()), database, null);
            }
            var file = new SqliteTestDatabase();
            return new Cluster(await TestNode.StartAsync(provider, file.ConnectionString, Settings()), null, file);
        }

        /// <summary>Writes one failed attempt of <paramref name="dataType"/>/<paramref name="entityId"/> at <paramref name="failedAt"/>.</summary>
        public Task FailAsync(string dataType, string entityId, DateTimeOffset failedAt) =>
            DatabaseQueries.ScalarAsync(
                Enum.Parse<StorageProvider>(Node.App.Configuration["Storage:Provider"]!), Node.App.Configuration["Storage:ConnectionString"]!,
                """
                INSERT INTO failures (data_type, entity_id, attempt, node_id, failed_at, exception_type, message, detail, done)
                VALUES (@d, @e, 1, 'test-node', @at, 'System.TimeoutException', 'timed out', NULL, @done)
                """,
                ("@d", dataType), ("@e", entityId), ("@at", failedAt), ("@done", false));

        public async Task<int> MarkAsync(string query)
        {
            using var response = await Node.Http.PostAsync($"/api/failures/done{query}", null);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /api/failures/done{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var body = await ApiResponses.JsonAsync(response);
            Assert.Equal(["marked"], body.EnumerateObject().Select(p => p.Name));
            return body.GetProperty("marked").GetInt32();
        }

        /// <summary>The not-done failures as "dataType/entityId@minutes after T0", sorted.</summary>
        public async Task<string[]> NotDoneAsync()
        {
            using var response = await Node.Http.GetAsync("/api/failures?done=false&pageSize=1000");
            var page = await ApiResponses.JsonAsync(response);
            return [.. page.GetProperty("items").EnumerateArray().Select(Describe).Order(StringComparer.Ordinal)];
        }

        public async Task<JsonElement[]> DoneAsync()
        {
            using var response = await Node.Http.GetAsync("/api/failures?done=true&pageSize=1000");
            return [.. (await ApiResponses.JsonAsync(response)).GetProperty("items").EnumerateArray()];
        }

        public static string Describe(JsonElement failure) =>
            $"{failure.GetProperty("dataType").GetString()}/{failure.GetProperty("entityId").GetString()}"
            + $"@{(failure.GetProperty("failedAt").GetDateTimeOffset() - T0).TotalMinutes}";

        public async ValueTask DisposeAsync()
        {
            await Node.DisposeAsync();
            if (postgres is not null)
                await postgres.DisposeAsync();
            sqlite?.Dispose();
        }
    }

    private static string At(int minutes) => Uri.EscapeDataString(T0.AddMinutes(minutes).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));

    private static async Task SeedAsync(Cluster cluster)
    {
        await cluster.FailAsync("alpha", "a1", T0);
        await cluster.FailAsync("alpha", "a1", T0.AddMinutes(10));
        await cluster.FailAsync("alpha", "a2", T0.AddMinutes(20));
        await cluster.FailAsync("beta", "b1", T0.AddMinutes(5));
        await cluster.FailAsync("beta", "b1", T0.AddMinutes(30));
    }

    private static async Task ByDataTypeAsync(StorageProvider provider)
    {
        await using var cluster = await Cluster.StartAsync(provider);
        await SeedAsync(cluster);

        Assert.Equal(3, await cluster.MarkAsync("?dataType=alpha"));

        Assert.Equal(["beta/b1@30", "beta/b1@5"], await cluster.NotDoneAsync());
        var done = await cluster.DoneAsync();
        Assert.Equal(["alpha/a1@0", "alpha/a1@10", "alpha/a2@20"], done.Select(Cluster.Describe).Order(StringComparer.Ordinal));
        Assert.All(done, f => Assert.True(f.GetProperty("done").GetBoolean() && f.GetProperty("doneAt").ValueKind == JsonValueKind.String, f.ToString()));
        Assert.Equal(0, await cluster.MarkAsync("?dataType=alpha")); // nothing left to mark
        Assert.Equal(2, (await cluster.NotDoneAsync()).Length);
    }

    private static async Task BeforeAndEntityAsync(StorageProvider provider)
    {
        await using var cluster = await Cluster.StartAsync(provider);
        await SeedAsync(cluster);

        // before is exclusive: a1@10 is not before 10 minutes.
        Assert.Equal(1, await cluster.MarkAsync($"?dataType=alpha&entityId=a1&before={At(10)}"));
        Assert.Equal(["alpha/a1@10", "alpha/a2@20", "beta/b1@30", "beta/b1@5"], await cluster.NotDoneAsync());

        // Another offset, the same instant: T0+25 min written as 13:25+01:00.
        var beforeInCet = Uri.EscapeDataString(T0.AddMinutes(25).ToOffset(TimeSpan.FromHours(1)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(3, await cluster.MarkAsync($"?before={beforeInCet}"));
        Assert.Equal(["beta/b1@30"], await cluster.NotDoneAsync());
        Assert.Equal(0, await cluster.MarkAsync($"?before={beforeInCet}"));

        Assert.Equal(1, await cluster.MarkAsync("")); // no filter: everything not done
        Assert.Empty(await cluster.NotDoneAsync());
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public Task MarkAllDone_ByDataType_MarksOnlyThatTypesFailuresAndThenNone_Sqlite() => ByDataTypeAsync(StorageProvider.Sqlite);

    [Fact]
    [Trait("Provider", "Postgres")]
    public Task MarkAllDone_ByDataType_MarksOnlyThatTypesFailuresAndThenNone_Postgres() => ByDataTypeAsync(StorageProvider.Postgres);

    [Fact]
    [Trait("Provider", "Sqlite")]
    public Task MarkAllDone_BeforeAndEntityId_MarksOnlyEarlierFailuresOfThatEntity_Sqlite() => BeforeAndEntityAsync(StorageProvider.Sqlite);

    [Fact]
    [Trait("Provider", "Postgres")]
    public Task MarkAllDone_BeforeAndEntityId_MarksOnlyEarlierFailuresOfThatEntity_Postgres() => BeforeAndEntityAsync(StorageProvider.Postgres);

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task MarkAllDone_AlreadyDoneFailure_KeepsItsDoneAt()
    {
        await using var cluster = await Cluster.StartAsync(StorageProvider.Sqlite);
        await SeedAsync(cluster);
        Assert.Equal(2, await cluster.MarkAsync("?dataType=beta"));
        var first = (await cluster.DoneAsync()).ToDictionary(f => f.GetProperty("id").GetInt64(), f => f.GetProperty("doneAt").GetString());

        Assert.Equal(3, await cluster.MarkAsync(""));

        var after = (await cluster.DoneAsync()).ToDictionary(f => f.GetProperty("id").GetInt64(), f => f.GetProperty("doneAt").GetString());
        Assert.Equal(5, after.Count);
        Assert.All(first, pair => Assert.Equal(pair.Value, after[pair.Key]));
    }

    [Theory]
    [Trait("Provider", "Sqlite")]
    [InlineData("?dataType=no-such-type", "no-such-type")]
    [InlineData("?dataType=", "''")]
    [InlineData("?before=yesterday", "before must be an ISO 8601 instant")]
    [InlineData("?before=2026-02-30T00:00:00Z", "2026-02-30")]
    [InlineData("?before=1%2F2%2F2026", "1/2/2026")]
    [InlineData("?dataType=alpha&before=", "before must be")]
    public async Task MarkAllDone_BadFilter_Returns400NamingItAndMarksNothing(string query, string named)
    {
        await using var cluster = await Cluster.StartAsync(StorageProvider.Sqlite);
        await SeedAsync(cluster);

        using var response = await cluster.Node.Http.PostAsync($"/api/failures/done{query}", null);

        Assert.Contains(named, await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest));
        Assert.Equal(5, (await cluster.NotDoneAsync()).Length);
    }
}

using System.Net;
using BatchScheduler.Health;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Health;

/// <summary>The anonymous <c>/healthz/ready</c> never passes on what a failing check's exception says.</summary>
[Trait("Provider", "Sqlite")]
public sealed class HealthEndpointsTests
{
    [Fact]
    public async Task Ready_CheckThrows_503WithoutTheExceptionMessage()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api",
        }, services => services.AddHealthChecks().AddCheck("throws", () => throw new InvalidOperationException("cannot reach db.internal.example:5432"), tags: [HealthEndpoints.ReadyTag]));

        using var response = await node.Http.GetAsync("/healthz/ready");

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("\"throws\"", body);
        Assert.DoesNotContain("db.internal.example", body);
    }
}

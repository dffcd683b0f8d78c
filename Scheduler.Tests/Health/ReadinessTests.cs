using System.Net;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Npgsql;

namespace BatchScheduler.Tests.Health;

/// <summary>
/// An outage of the node's database: the node keeps running (liveness), reports not ready, and
/// resumes by itself when the database is back.
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class ReadinessTests
{
    [Fact]
    public async Task Ready_DatabaseUnreachableThenBack_Reports503ThenRecoversAndRunsWork()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var node = await TestNode.StartAsync(store.Provider, store.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:x:Executor"] = "noop",
            ["Cluster:CheckinInterval"] = "00:00:01",
        });
        Assert.Equal(HttpStatusCode.OK, (await node.Http.GetAsync("/healthz/ready")).StatusCode);
        var database = new NpgsqlConnectionStringBuilder(store.ConnectionString).Database!;

        await SetConnectionsAllowedAsync(database, allowed: false);
        try
        {
            using var notReady = await node.Http.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            var body = await notReady.Content.ReadAsStringAsync();
            Assert.Contains("database unreachable", body);
            Assert.DoesNotContain(database, body); // the reason (which names the database) goes to the log only
            Assert.Equal(HttpStatusCode.OK, (await node.Http.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await SetConnectionsAllowedAsync(database, allowed: true);
        }

        await Eventually.TrueAsync(async () => (await node.Http.GetAsync("/healthz/ready")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "the node should report ready again once the database is back");
        await node.PutAsync("x", "after-outage", new { });
        await node.WaitForStateAsync("x", "after-outage", WorkItemStates.Completed, TimeSpan.FromSeconds(60));
    }

    /// <summary>Refuses (and cuts) or allows connections to one database, as an outage would, without touching the shared server.</summary>
    private static async Task SetConnectionsAllowedAsync(string database, bool allowed)
    {
        await using var admin = new NpgsqlConnection(PostgresTestDatabase.AdminConnectionString);
        await admin.OpenAsync();
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {(allowed ? "true" : "false")}", admin))
            await alter.ExecuteNonQueryAsync();
        if (allowed)
            return;
        await using var kill = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()", admin);
        kill.Parameters.AddWithValue("d", database);
        await kill.ExecuteNonQueryAsync();
    }
}

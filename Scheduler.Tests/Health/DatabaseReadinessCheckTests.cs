using System.Net;
using System.Net.Sockets;
using BatchScheduler.Configuration;
using BatchScheduler.Health;
using BatchScheduler.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Health;

/// <summary>The anonymous readiness answer during an outage says the database is unreachable, not where it is.</summary>
public sealed class DatabaseReadinessCheckTests
{
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task CheckHealth_DatabasePortClosed_UnhealthyWithoutHostOrPort()
    {
        var port = ClosedPort();
        await using var connections = new ConnectionFactory(Options.Create(new StorageOptions
        {
            Provider = StorageProvider.Postgres,
            ConnectionString = $"Host=127.0.0.1;Port={port};Username=nobody;Database=gone;Timeout=2",
        }), new PostgreSqlStoreDriver());
        var check = new DatabaseReadinessCheck(connections, NullLogger<DatabaseReadinessCheck>.Instance);

        var result = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("database unreachable", result.Description);
        Assert.DoesNotContain("127.0.0.1", result.Description);
        Assert.DoesNotContain(port.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Description);
    }
}

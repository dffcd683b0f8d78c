using BatchScheduler.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BatchScheduler.Health;

/// <summary>
/// Ready means the store answers within two seconds. While it does not (an outage, a restart) the
/// node keeps running and Quartz keeps retrying; this only tells load balancers and ops. The answer
/// is anonymous, so it says only "database unreachable"; the reason (which names the database's
/// host and port) goes to the log.
/// </summary>
internal sealed partial class DatabaseReadinessCheck(ConnectionFactory connections, ILogger<DatabaseReadinessCheck> logger) : IHealthCheck
{
    public const string Unreachable = "database unreachable";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await using var connection = await connections.OpenAsync(timeout.Token);
            await using var command = connection.Command("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return HealthCheckResult.Healthy($"{connections.Provider} answers");
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException)
        {
            NotReady(logger, connections.Provider.ToString(), ex);
            return HealthCheckResult.Unhealthy(Unreachable);
        }
    }

    [LoggerMessage(2100, LogLevel.Warning, "Not ready: the {Provider} database did not answer within 2 s")]
    private static partial void NotReady(ILogger logger, string provider, Exception exception);
}

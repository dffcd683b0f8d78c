using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Hosting;

/// <summary>
/// Registered before Quartz, so it stops after it: deletes this node's row from
/// <c>qrtz_scheduler_state</c>, which Quartz leaves behind on a clean shutdown. A stopped node
/// then no longer shows in <c>GET /api/nodes</c> and is never mistaken for a failed one.
/// </summary>
internal sealed partial class ClusterCheckoutService(
    ConnectionFactory connections, IOptions<ClusterOptions> cluster, NodeIdentity node, ILogger<ClusterCheckoutService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = connection.Command(
                "DELETE FROM qrtz_scheduler_state WHERE sched_name = @sched AND instance_name = @node")
                .With("@sched", cluster.Value.SchedulerName).With("@node", node.Id);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (System.Data.Common.DbException ex)
        {
            // The database is gone as the node stops: the row lapses and the cluster treats the node as failed.
            CheckoutFailed(logger, ex, node.Id);
        }
    }

    [LoggerMessage(1202, LogLevel.Warning, "Could not remove the check-in of {NodeId}; other nodes will see it lapse")]
    private static partial void CheckoutFailed(ILogger logger, Exception exception, string nodeId);
}

using BatchScheduler.Configuration;
using BatchScheduler.Health;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Limits;

/// <summary>
/// Publishes the data types this worker node executes (<c>node_data_types</c>, V013): at start, before
/// Quartz fires anything, and every minute after. The only writer of that table.
/// </summary>
internal sealed partial class NodeDataTypesPublisher(
    ConnectionFactory connections, DataTypeLimits limits, NodeIdentity node, TimeProvider time, ILogger<NodeDataTypesPublisher> logger) : BackgroundService
{
    /// <summary>How often the row is written again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(1);

    /// <summary>A row not written for this long belongs to a node gone for good, and is removed.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await PublishAsync(cancellationToken);
        NodeExecutes(logger, node.Id, string.Join(", ", limits.Served), limits.NotServed.Count == 0 ? "none" : string.Join(", ", limits.NotServed));
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await PublishAsync(stoppingToken);
                }
                catch (System.Data.Common.DbException e)
                {
                    RefreshFailed(logger, e.Message); // the row written at start stays; the next tick tries again
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping (also when another service failed to start, e.g. on a busy port): not a crash to report.
        }
    }

    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var delete = connection.Command("DELETE FROM node_data_types WHERE node_id = @node OR updated_at < @stale", transaction)
            .With("@node", node.Id).With("@stale", (now - StaleAfter).UtcTicks))
            await delete.ExecuteNonQueryAsync(cancellationToken);
        await using (var insert = connection.Command("INSERT INTO node_data_types (node_id, data_types, updated_at) VALUES (@node, @types, @at)", transaction)
            .With("@node", node.Id).With("@types", string.Join(',', limits.Served)).With("@at", now.UtcTicks))
            await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    [LoggerMessage(2350, LogLevel.Information, "Node {NodeId} executes data types {DataTypes}; not: {NotExecuted}")]
    private static partial void NodeExecutes(ILogger logger, string nodeId, string dataTypes, string notExecuted);

    [LoggerMessage(2351, LogLevel.Warning, "Could not refresh the data types this node executes in node_data_types ({Reason}); trying again in a minute")]
    private static partial void RefreshFailed(ILogger logger, string reason);
}

/// <summary>Which live nodes execute each data type: <c>node_data_types</c> joined with Quartz's check-ins (<see cref="NodeStatusQuery"/>).</summary>
internal sealed class NodeDataTypesQuery(ConnectionFactory connections, NodeStatusQuery nodes)
{
    /// <summary>Data type → the live nodes that execute it, ordered by node id (a data type no live node executes is absent).</summary>
    public async Task<IReadOnlyDictionary<string, List<string>>> LiveNodesAsync(CancellationToken cancellationToken)
    {
        var alive = (await nodes.ListAsync(cancellationToken)).Where(n => n.Alive).Select(n => n.NodeId).ToHashSet(StringComparer.Ordinal);
        var byType = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT node_id, data_types FROM node_data_types ORDER BY node_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var node = reader.GetString(0);
            if (!alive.Contains(node))
                continue;
            foreach (var dataType in reader.GetString(1).Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!byType.TryGetValue(dataType, out var list))
                    byType[dataType] = list = [];
                list.Add(node);
            }
        }
        return byType;
    }
}

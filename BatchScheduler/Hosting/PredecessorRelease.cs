using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Hosting;

/// <summary>
/// A worker started under a node id that an earlier process used (a restart with a fixed
/// <c>Cluster:NodeId</c>, or the host name on SQLite) releases the items that process left
/// <c>in_flight</c>, before this node's Quartz starts: their <c>node_id</c> is cleared, which the
/// start statement reads as "no owner", so whichever node fires them next starts them at once.
/// </summary>
/// <remarks>
/// <para>
/// Left as they were, the rows name this node, which is alive again: every other node skips them as
/// running elsewhere (and retries 5 s later) for as long as this one checks in, and only this node
/// itself could start them. Quartz's own first check-in makes the same assumption about the id: it
/// recovers the firings recorded under it as those of a dead process, so this runs before Quartz
/// starts (a hosted service registered ahead of it), when nothing of this process can have started
/// an item yet.
/// </para>
/// <para>
/// The rule: at start, <c>UPDATE work_items SET node_id = NULL WHERE node_id = &lt;this id&gt; AND
/// state = 'in_flight'</c>. A row another node has started since carries that node's id and is left
/// alone; the item's state and attempt are kept (the recovered firing re-runs the same attempt). It
/// presumes what Quartz presumes: no other live process uses this node id at the same time.
/// </para>
/// </remarks>
internal sealed partial class PredecessorRelease(ConnectionFactory connections, NodeIdentity node, ILogger<PredecessorRelease> logger) : IHostedService
{
    internal const string Release = "UPDATE work_items SET node_id = NULL WHERE node_id = @node AND state = @inFlight";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(Release).With("@node", node.Id).With("@inFlight", WorkItemStates.InFlight);
        var released = await command.ExecuteNonQueryAsync(cancellationToken);
        if (released > 0)
            Released(logger, released, node.Id);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1110, LogLevel.Warning, "Released {Count} items an earlier process of node {NodeId} left in flight; any node may start them now")]
    private static partial void Released(ILogger logger, int count, string nodeId);
}

using BatchScheduler.Configuration;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Health;

/// <summary>A node as the cluster sees it.</summary>
public sealed record NodeStatus(string NodeId, DateTimeOffset? LastCheckin, bool Alive);

/// <summary>Reads live nodes from Quartz's own check-in table (<c>qrtz_scheduler_state</c>).</summary>
public sealed class NodeStatusQuery(ConnectionFactory connections, IOptions<ClusterOptions> cluster, NodeIdentity self, TimeProvider time)
{
    public async Task<IReadOnlyList<NodeStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var nodes = new List<NodeStatus>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT instance_name, last_checkin_time, checkin_interval FROM qrtz_scheduler_state WHERE sched_name = @sched ORDER BY instance_name")
            .With("@sched", cluster.Value.SchedulerName);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var lastCheckin = new DateTimeOffset(reader.GetInt64("last_checkin_time"), TimeSpan.Zero);
                var interval = TimeSpan.FromMilliseconds(reader.GetInt64("checkin_interval"));
                // Quartz's own failure-detection rule: a node is dead once it misses its check-in
                // by more than the interval plus a margin.
                var alive = now - lastCheckin <= interval * 2 + TimeSpan.FromSeconds(1);
                nodes.Add(new NodeStatus(reader.GetString(0), lastCheckin, alive));
            }
        }
        // A single (SQLite) node does not check in; it is alive because it is answering.
        if (!nodes.Any(n => n.NodeId == self.Id))
            nodes.Add(new NodeStatus(self.Id, now, true));
        return nodes;
    }
}

using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Health;

/// <summary>A node as the cluster sees it; <see cref="Running"/> counts the items it executes now.</summary>
internal sealed record NodeStatus(string NodeId, DateTimeOffset? LastCheckin, bool Alive, long Running);

/// <summary>Reads live nodes from Quartz's own check-in table (<c>qrtz_scheduler_state</c>).</summary>
internal sealed class NodeStatusQuery(ConnectionFactory connections, IOptions<ClusterOptions> cluster, NodeIdentity self, TimeProvider time)
{
    public async Task<IReadOnlyList<NodeStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var nodes = new List<NodeStatus>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        var running = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var executing = connection.Command(
            "SELECT instance_name, COUNT(*) AS n FROM qrtz_fired_triggers WHERE sched_name = @sched AND state = 'EXECUTING' GROUP BY instance_name")
            .With("@sched", cluster.Value.SchedulerName))
        await using (var reader = await executing.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                running[reader.GetString(0)] = reader.GetInt64("n");
        }
        await using var command = connection.Command(
            "SELECT instance_name, last_checkin_time, checkin_interval FROM qrtz_scheduler_state WHERE sched_name = @sched ORDER BY instance_name")
            .With("@sched", cluster.Value.SchedulerName);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var lastCheckin = new DateTimeOffset(reader.GetInt64("last_checkin_time"), TimeSpan.Zero);
                var interval = TimeSpan.FromMilliseconds(reader.GetInt64("checkin_interval"));
                // Quartz's own failure rule: a node is dead once its check-in is more than its
                // interval plus 7.5 s old (the same rule the in-flight guard uses).
                var alive = now - lastCheckin <= interval + TimeSpan.FromMilliseconds(7500);
                var id = reader.GetString(0);
                nodes.Add(new NodeStatus(id, lastCheckin, alive, running.GetValueOrDefault(id)));
            }
        }
        // A single (SQLite) node does not check in; it is alive because it is answering.
        if (!nodes.Any(n => n.NodeId == self.Id))
            nodes.Add(new NodeStatus(self.Id, now, true, running.GetValueOrDefault(self.Id)));
        return nodes;
    }
}

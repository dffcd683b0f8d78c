using System.Security.Cryptography;
using BatchScheduler.Storage;

namespace BatchScheduler.Configuration;

/// <summary>This node's id: Quartz instance id, <c>node_id</c> in the tables, <c>NodeId</c> in logs.</summary>
internal sealed class NodeIdentity(string id)
{
    public string Id { get; } = id;

    /// <summary>
    /// Uses <see cref="ClusterOptions.NodeId"/> as given. For <c>auto</c>: in a cluster, host name,
    /// process id and a random suffix, so two nodes on one host (or a restarted one) never share
    /// an id; on SQLite, which is one node, the host name alone, because a non-clustered Quartz
    /// recovers after a crash only the work recorded under its own id, so a restarted node must
    /// come back as the same node.
    /// </summary>
    public static NodeIdentity Resolve(ClusterOptions options, StorageProvider provider)
    {
        if (!string.Equals(options.NodeId, "auto", StringComparison.OrdinalIgnoreCase))
            return new NodeIdentity(options.NodeId);
        var host = Environment.MachineName.ToLowerInvariant();
        if (host.Length > 150)
            host = host[..150];
        return provider == StorageProvider.Sqlite
            ? new NodeIdentity(host)
            : new NodeIdentity($"{host}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}");
    }
}

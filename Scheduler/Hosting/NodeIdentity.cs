using System.Security.Cryptography;
using BatchScheduler.Configuration;

namespace BatchScheduler.Hosting;

/// <summary>This node's id: Quartz instance id, <c>node_id</c> in the tables, <c>NodeId</c> in logs.</summary>
public sealed class NodeIdentity(string id)
{
    public string Id { get; } = id;

    /// <summary>
    /// Uses <see cref="ClusterOptions.NodeId"/> as given, or for <c>auto</c> host name, process id
    /// and a random suffix, so two nodes on one host (or a restarted one) never share an id.
    /// </summary>
    public static NodeIdentity Resolve(ClusterOptions options)
    {
        if (!string.Equals(options.NodeId, "auto", StringComparison.OrdinalIgnoreCase))
            return new NodeIdentity(options.NodeId);
        var host = Environment.MachineName.ToLowerInvariant();
        if (host.Length > 150)
            host = host[..150];
        return new NodeIdentity($"{host}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}");
    }
}

using System.Net;

namespace BatchScheduler.Outbound;

/// <summary>Resolves a target's host name to the addresses <see cref="OutboundPolicy"/> checks; tests replace it to stand for a DNS answer.</summary>
internal class HostResolver
{
    public virtual Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        Dns.GetHostAddressesAsync(host, cancellationToken);
}

using System.Net;
using System.Net.Sockets;
using BatchScheduler.Configuration;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Outbound;

/// <summary>
/// The one rule for where the node may send a request a user names (batch callbacks, the alert
/// webhook): http or https only; never a link-local or cloud metadata address (where a cloud VM's
/// credentials are served); loopback and private ranges unless <see cref="OutboundOptions"/> turns
/// them off; and only the <see cref="OutboundOptions.AllowedHosts"/> when that list is set. A URL is
/// checked when it is accepted (<see cref="Refusal(string)"/>, literal addresses and names) and each
/// connection again after name resolution (<see cref="AddressRefusal"/>, see
/// <see cref="OutboundHttpClients"/>), so a name that resolves to a refused address is refused too.
/// </summary>
internal sealed class OutboundPolicy(IOptions<OutboundOptions> options)
{
    /// <summary>Names that resolve to a cloud metadata service (GCP; AWS and Azure use 169.254.169.254).</summary>
    private static readonly string[] MetadataNames = ["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"];

    private static readonly IPAddress[] MetadataAddresses =
        [IPAddress.Parse("169.254.169.254"), IPAddress.Parse("169.254.170.2"), IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("100.100.100.200")];

    private OutboundOptions Options => options.Value;

    /// <summary>Why <paramref name="url"/> may not be called, or null when it may (its host's addresses are checked again on connect).</summary>
    public string? Refusal(string url) =>
        !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            ? "it is not an absolute http or https URL"
            : Refusal(uri);

    /// <inheritdoc cref="Refusal(string)"/>
    public string? Refusal(Uri url) =>
        url.Scheme is not ("http" or "https") ? "it is not an absolute http or https URL" : HostRefusal(url.IdnHost);

    /// <summary>Why a connection to <paramref name="host"/> (a name or an address literal) is refused, or null.</summary>
    public string? HostRefusal(string host)
    {
        host = host.Trim('[', ']').TrimEnd('.');
        if (IPAddress.TryParse(host, out var literal))
        {
            if (AddressRefusal(literal) is { } refused)
                return refused;
        }
        else if (MetadataNames.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            return $"{host} is a cloud metadata service";
        }
        else if (!Options.AllowLoopback && (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)))
        {
            return $"{host} is a loopback name and {OutboundOptions.Section}:AllowLoopback is false";
        }
        if (Options.AllowedHosts.Length > 0 && !Options.AllowedHosts.Any(allowed => Matches(allowed, host)))
            return $"{host} is not in {OutboundOptions.Section}:AllowedHosts";
        return null;
    }

    /// <summary>Why a connection to <paramref name="address"/> is refused, or null.</summary>
    public string? AddressRefusal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (MetadataAddresses.Contains(address))
            return $"{address} is a cloud metadata address";
        if (IsLinkLocal(address))
            return $"{address} is a link-local address";
        if (address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast) || IsMulticast(address)
            || address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] == 0)
            return $"{address} is not a unicast address";
        if (IPAddress.IsLoopback(address))
            return Options.AllowLoopback ? null : $"{address} is a loopback address and {OutboundOptions.Section}:AllowLoopback is false";
        if (IsPrivate(address))
            return Options.AllowPrivateNetworks ? null : $"{address} is in a private range and {OutboundOptions.Section}:AllowPrivateNetworks is false";
        return null;
    }

    /// <summary>Whether <paramref name="entry"/> is a valid <see cref="OutboundOptions.AllowedHosts"/> entry.</summary>
    public static bool IsValidEntry(string? entry)
    {
        if (string.IsNullOrWhiteSpace(entry))
            return false;
        var name = entry.StartsWith("*.", StringComparison.Ordinal) ? entry[2..] : entry;
        return IPAddress.TryParse(name.Trim('[', ']'), out _) && name == entry
            || Uri.CheckHostName(name) == UriHostNameType.Dns;
    }

    private static bool Matches(string entry, string host)
    {
        if (IPAddress.TryParse(entry.Trim('[', ']'), out var address))
            return IPAddress.TryParse(host, out var hostAddress) && address.Equals(hostAddress);
        return entry.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(entry[1..], StringComparison.OrdinalIgnoreCase) && host.Length > entry.Length - 1
            : host.Equals(entry, StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsLinkLocal(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork
        ? a.GetAddressBytes() is [169, 254, ..]
        : a.IsIPv6LinkLocal;

    private static bool IsMulticast(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork
        ? a.GetAddressBytes()[0] >= 224
        : a.IsIPv6Multicast;

    private static bool IsPrivate(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return a.AddressFamily == AddressFamily.InterNetwork
            ? b[0] == 10 || b[0] == 172 && (b[1] & 0xF0) == 16 || b[0] == 192 && b[1] == 168 || b[0] == 100 && (b[1] & 0xC0) == 64
            : (b[0] & 0xFE) == 0xFC || a.IsIPv6SiteLocal;
    }
}

namespace BatchScheduler.Configuration;

/// <summary>
/// Where the node may send requests that users name: batch completion callbacks (<c>?callbackUrl=</c>)
/// and the alert webhook (section <c>Outbound</c>). Link-local and cloud metadata addresses are always
/// refused; see <c>BatchScheduler.Outbound.OutboundPolicy</c>.
/// </summary>
internal sealed class OutboundOptions
{
    public const string Section = "Outbound";

    /// <summary>
    /// When not empty, the only hosts a callback or webhook URL may name: a host name
    /// (<c>hooks.example.com</c>), every subdomain of one (<c>*.example.com</c>) or an IP address.
    /// Empty allows any host the address rules allow.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>Whether targets in private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are allowed.</summary>
    public bool AllowPrivateNetworks { get; set; } = true;

    /// <summary>Whether loopback targets (127/8, ::1, localhost) are allowed: a single-machine setup calls back to itself.</summary>
    public bool AllowLoopback { get; set; } = true;
}

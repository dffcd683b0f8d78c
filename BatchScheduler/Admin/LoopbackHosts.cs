using System.Net;

namespace BatchScheduler.Admin;

/// <summary>
/// The <c>Host</c> names a loopback caller may use when loopback means admin: the loopback names and
/// <c>Admin:AllowedHosts</c>. A page that rebinds its own DNS name to 127.0.0.1 still sends that name
/// as its <c>Host</c>, so it is refused here; a browser never lets a page choose a loopback name's address.
/// </summary>
internal static class LoopbackHosts
{
    public const string Setting = "Admin:AllowedHosts";

    /// <summary>Whether <paramref name="host"/> (the request's <c>Host</c>, port ignored) is a loopback name or one of <paramref name="configured"/>.</summary>
    public static bool IsAllowed(string? host, IReadOnlyList<string> configured)
    {
        // HTTP/1.0 may omit Host; a browser always sends it.
        if (string.IsNullOrEmpty(host))
            return true;
        var name = Unbracket(host);
        if (IsLoopbackName(name))
            return true;
        foreach (var entry in configured)
        {
            var allowed = Unbracket(entry);
            if (allowed.StartsWith("*.", StringComparison.Ordinal)
                ? name.EndsWith(allowed[1..], StringComparison.OrdinalIgnoreCase) && name.Length > allowed.Length - 1
                : string.Equals(name, allowed, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>Why <paramref name="entry"/> cannot be an <c>Admin:AllowedHosts</c> entry, or null when it can.</summary>
    public static string? SettingProblem(string? entry)
    {
        if (string.IsNullOrWhiteSpace(entry))
            return "is empty; give a host name such as 'scheduler.example.test'.";
        if (entry is "*" or "*.")
            return "would let any web page use the node through DNS rebinding; configure Admin:ApiKeys instead of allowing every host.";
        var name = Unbracket(entry.StartsWith("*.", StringComparison.Ordinal) ? entry[2..] : entry);
        if (Uri.CheckHostName(name) is UriHostNameType.Unknown or UriHostNameType.Basic)
            return "is not a host name or address; give the name alone, without scheme, port or path (e.g. 'scheduler.example.test' or '*.example.test').";
        return null;
    }

    private static bool IsLoopbackName(string name) =>
        name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address));

    private static string Unbracket(string host) =>
        host.Length > 1 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
}

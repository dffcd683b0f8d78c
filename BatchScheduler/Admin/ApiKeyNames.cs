using System.Text.RegularExpressions;
using BatchScheduler.Configuration;

namespace BatchScheduler.Admin;

/// <summary>
/// The name a caller is known by (<c>Admin:ApiKeys:&lt;i&gt;:Name</c>, or <c>loopback</c> without keys):
/// what the audit trail's <c>who</c> and a pause's <c>pausedBy</c> show.
/// </summary>
internal static partial class ApiKeyNames
{
    /// <summary>Who a loopback caller on a node without keys is.</summary>
    public const string Loopback = "loopback";

    public const int MaxLength = 64;

    public const string Rule = "1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit (e.g. 'ops-alice', 'billing-sync')";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
    private static partial Regex Pattern();

    /// <summary>The name of the key at <paramref name="index"/> of <c>Admin:ApiKeys</c>: its <c>Name</c>, or <c>key-&lt;index&gt;</c> without one.</summary>
    public static string Of(ApiKeyOptions key, int index) =>
        string.IsNullOrEmpty(key.Name) ? $"key-{index}" : key.Name;

    /// <summary>Why <paramref name="name"/> cannot be a key's <c>Name</c>, or null when it can (null itself can: the default applies).</summary>
    public static string? Problem(string? name)
    {
        if (name is null)
            return null;
        if (name.Length is 0 or > MaxLength || !Pattern().IsMatch(name))
            return $"'{name}' is not a key name; use {Rule}.";
        if (string.Equals(name, Loopback, StringComparison.OrdinalIgnoreCase))
            return $"'{name}' is reserved for loopback callers of a node without keys; choose another name.";
        return null;
    }

    /// <summary>Who made the request: the caller's name, or <c>unknown</c> for a caller without one.</summary>
    public static string Who(System.Security.Claims.ClaimsPrincipal user) =>
        user.Identity?.Name is { Length: > 0 } name ? name : "unknown";
}

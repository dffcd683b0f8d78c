namespace BatchScheduler.Configuration;

/// <summary>Access to the API and dashboard (section <c>Admin</c>).</summary>
internal sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>API keys. Empty: only loopback requests are answered.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>
    /// Without <see cref="ApiKeys"/>: host names a loopback caller may address the node by, besides
    /// the loopback names (<c>localhost</c>, <c>*.localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>).
    /// An entry is a host name or address without scheme or port; <c>*.example.test</c> also
    /// allows every name under <c>example.test</c>. Not used when keys are configured.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];
}

/// <summary>One API key and what it may do.</summary>
internal sealed class ApiKeyOptions
{
    public string Key { get; set; } = "";

    /// <summary>
    /// Who the key is, as the audit trail and "paused by" show it (e.g. <c>ops-alice</c>,
    /// <c>billing-sync</c>): 1-64 letters, digits, '.', '_', '-' or '@', unique. Unset: <c>key-&lt;i&gt;</c>,
    /// after the key's place in the list (see <see cref="Admin.ApiKeyNames"/>).
    /// </summary>
    public string? Name { get; set; }

    /// <summary><c>viewer</c> (read) or <c>admin</c> (read and change).</summary>
    public string Role { get; set; } = AdminRoles.Viewer;
}

/// <summary>The values <see cref="ApiKeyOptions.Role"/> accepts.</summary>
internal static class AdminRoles
{
    public const string Viewer = "viewer";
    public const string Admin = "admin";
}

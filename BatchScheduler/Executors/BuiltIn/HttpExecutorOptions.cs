namespace BatchScheduler.Executors.BuiltIn;

/// <summary>
/// Where the <c>http</c> executor sends a data type's work items; bound per data type from
/// <c>DataTypes:&lt;name&gt;:Http</c> as named options (name = data type).
/// </summary>
internal sealed class HttpExecutorOptions
{
    /// <summary>The placeholder in <see cref="Url"/> replaced by the escaped entity id.</summary>
    public const string EntityIdPlaceholder = "{entityId}";

    internal static readonly string[] AllowedMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    /// <summary>Absolute http(s) URL; may contain <c>{entityId}</c>.</summary>
    public string? Url { get; set; }

    /// <summary>GET, POST, PUT, PATCH or DELETE.</summary>
    public string Method { get; set; } = "POST";

    /// <summary>How long one call may take, response included.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Returns the problems with these settings, each naming the key relative to the <c>Http</c>
    /// section, the value and what is allowed; empty when valid.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Url))
        {
            problems.Add("Url is required: the absolute http or https address to send work items to, e.g. http://host/items/{entityId}");
        }
        else if (!Uri.TryCreate(Url.Replace(EntityIdPlaceholder, "x", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                 || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add($"Url must be an absolute http or https URI (was '{Url}')");
        }

        if (!AllowedMethods.Contains(Method?.ToUpperInvariant()))
        {
            problems.Add($"Method must be one of {string.Join(", ", AllowedMethods)} (was '{Method}')");
        }

        if (Timeout <= TimeSpan.Zero || Timeout > MaxTimeout)
        {
            problems.Add($"Timeout must be greater than 00:00:00 and at most {MaxTimeout:c} (was {Timeout:c})");
        }

        return problems;
    }
}

using BatchScheduler.Retry;

namespace BatchScheduler.Configuration;

/// <summary>One data type (section <c>DataTypes:&lt;name&gt;</c>).</summary>
internal sealed class DataTypeOptions
{
    public const string Section = "DataTypes";

    /// <summary>Name of the executor: a built-in (<c>noop</c>, <c>http</c>, <c>demo</c>) or one added with <c>AddExecutor</c>.</summary>
    public string Executor { get; set; } = "";

    /// <summary>
    /// Cadence per tier, as configured: a duration (<c>"00:15:00"</c>) or <c>cron:</c> and a Quartz cron
    /// expression (<c>"cron:0 0 22 ? * MON-FRI"</c>, in <see cref="TimeZone"/>). A tier whose cadence is empty runs its items once.
    /// </summary>
    public Dictionary<string, string?> Cadence { get; set; } = new(StringComparer.Ordinal);

    /// <summary>IANA time zone of cron cadences and quiet hours (default <c>UTC</c>).</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Windows in which none of the data type's items starts (in <see cref="TimeZone"/>).</summary>
    public List<QuietHoursOptions> QuietHours { get; set; } = [];

    /// <summary>Tier for items registered without one; default: the tier with the shortest cadence.</summary>
    public string? DefaultTier { get; set; }

    /// <summary>Retry policy for failed attempts.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>An attempt starting later than this after the item became due is pointless: the item expires.</summary>
    public TimeSpan? Expiry { get; set; }

    /// <summary>Vendor whose credits each call spends (see <c>Vendors</c>).</summary>
    public string? Vendor { get; set; }

    /// <summary>Credits one call spends.</summary>
    public int CreditsPerCall { get; set; } = 1;

    /// <summary>Data types whose item for the same entity must complete first.</summary>
    public List<string> DependsOn { get; set; } = [];

    // Issue 22, concurrency limits (DataTypeLimits applies them).

    /// <summary>At most this many of the data type's items run at once across the cluster; unset: no limit. Items over it wait, stalest first.</summary>
    public int? MaxConcurrency { get; set; }

    /// <summary>At most this many of the data type's items run at once on each node; unset: no limit.</summary>
    public int? MaxConcurrencyPerNode { get; set; }

    /// <summary>
    /// An attempt running longer has its token cancelled and fails with <c>timed out after &lt;Timeout&gt;</c>, then
    /// follows <see cref="Retry"/>; null: no limit.
    /// </summary>
    public TimeSpan? Timeout { get; set; }

    // Issue 24, retention (Retention/RetentionPass applies it).

    /// <summary>How long the data type's completed one-shot items are kept; by default for ever.</summary>
    public DataTypeRetentionOptions Retention { get; set; } = new();
}

/// <summary>One quiet-hours window (<c>DataTypes:&lt;name&gt;:QuietHours:&lt;n&gt;</c>).</summary>
internal sealed class QuietHoursOptions
{
    /// <summary>Local time the window starts, <c>HH:mm</c>.</summary>
    public string? From { get; set; }

    /// <summary>Local time it ends, <c>HH:mm</c>; not after <see cref="From"/>: the next day.</summary>
    public string? To { get; set; }

    /// <summary>Days it starts on (<c>Mon</c> … <c>Sun</c>); empty: every day.</summary>
    public List<string> Days { get; set; } = [];
}

/// <summary>A vendor's credit budget (section <c>Vendors:&lt;name&gt;</c>).</summary>
internal sealed class VendorOptions
{
    public const string Section = "Vendors";

    public int Credits { get; set; }

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

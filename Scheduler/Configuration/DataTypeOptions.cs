using BatchScheduler.Retry;

namespace BatchScheduler.Configuration;

/// <summary>One data type (section <c>DataTypes:&lt;name&gt;</c>).</summary>
public sealed class DataTypeOptions
{
    public const string Section = "DataTypes";

    /// <summary>Name of the executor: a built-in (<c>noop</c>, <c>http</c>, <c>demo</c>) or one added with <c>AddExecutor</c>.</summary>
    public string Executor { get; set; } = "";

    /// <summary>Cadence per tier. A tier whose cadence is empty runs its items once.</summary>
    public Dictionary<string, TimeSpan?> Cadence { get; set; } = new(StringComparer.Ordinal);

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
}

/// <summary>A vendor's credit budget (section <c>Vendors:&lt;name&gt;</c>).</summary>
public sealed class VendorOptions
{
    public const string Section = "Vendors";

    public int Credits { get; set; }

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

namespace BatchScheduler.Configuration;

/// <summary>All configured data types, keyed by name (the whole <c>DataTypes</c> section).</summary>
internal sealed class DataTypesOptions
{
    public Dictionary<string, DataTypeOptions> Items { get; } = new(StringComparer.Ordinal);
}

/// <summary>All configured vendors, keyed by name (the whole <c>Vendors</c> section).</summary>
internal sealed class VendorsOptions
{
    public Dictionary<string, VendorOptions> Items { get; } = new(StringComparer.Ordinal);
}

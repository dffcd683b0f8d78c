namespace BatchScheduler.Configuration;

/// <summary>The out-of-the-box demo data (section <c>Demo</c>).</summary>
internal sealed class DemoOptions
{
    public const string Section = "Demo";

    /// <summary>Register demo items for every data type using the <c>demo</c> executor on start (existing items are left alone).</summary>
    public bool SeedItems { get; set; }

    /// <summary>Items per demo data type.</summary>
    public int ItemsPerDataType { get; set; } = 25;
}

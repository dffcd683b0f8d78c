namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// One work item as the randomized test's driver believes it to be after its own answered calls:
/// whether it exists and in which tier. Operations on one item are serialized by <see cref="Gate"/>,
/// so the log of them is in the order the nodes applied them.
/// </summary>
internal sealed class DriverItem(string DataType, string EntityId, bool IsVolatile, string initialTier)
{
    public string DataType { get; } = DataType;

    public string EntityId { get; } = EntityId;

    public string Key => $"{DataType}/{EntityId}";

    /// <summary>Re-tiered, deleted and registered again by the driver; the others are only run and read.</summary>
    public bool IsVolatile { get; } = IsVolatile;

    public string Tier { get; set; } = initialTier;

    public bool Exists { get; set; } = true;

    public bool IsExcluded => Tier == ChaosScenario.Exclude;

    public SemaphoreSlim Gate { get; } = new(1, 1);
}

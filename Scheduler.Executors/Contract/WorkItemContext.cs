using System.Text.Json;

namespace BatchScheduler.Executors.Contract;

/// <summary>What an executor is told about the work item it runs.</summary>
/// <param name="DataType">The data type, e.g. <c>daily-prices</c>.</param>
/// <param name="EntityId">The entity, e.g. <c>AAPL</c>.</param>
/// <param name="Payload">The item's payload as registered (JSON), or null.</param>
/// <param name="Attempt">1 for the first attempt of a due cycle, 2 for the first retry, ...</param>
/// <param name="NodeId">The node running the item, for logs.</param>
public sealed record WorkItemContext(
    string DataType,
    string EntityId,
    JsonElement? Payload,
    int Attempt,
    string NodeId)
{
    /// <summary>
    /// The attempt's fencing token: it grows with every start of this item, so a downstream service that
    /// remembers the highest fence it has seen per item can refuse a write from an older attempt (one a
    /// node kept running after the item was recovered elsewhere). The <c>http</c> executor sends it as the
    /// <c>BatchScheduler-Fence</c> header and as <c>fence</c> in its JSON body.
    /// </summary>
    public long Fence { get; init; }

    /// <summary>Where the executor reports what a call actually cost in vendor credits (see <see cref="WorkItemCost"/>).</summary>
    public WorkItemCost Cost { get; } = new();
}

using System.Text.Json;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>The JSON body the <c>http</c> executor sends.</summary>
internal sealed record HttpWorkItemRequest(string DataType, string EntityId, int Attempt, long Fence, JsonElement? Payload);

using System.Text.Json;

namespace BatchScheduler.Coordination;

/// <summary>The stored payload text as the executor gets it.</summary>
internal static class WorkItemPayload
{
    public static JsonElement? Parse(string? payload) =>
        payload is null ? null : JsonDocument.Parse(payload).RootElement.Clone();
}

using System.Text.Json;
using BatchScheduler.Storage;

namespace BatchScheduler.Coordination;

/// <summary>The stored payload text as the executor gets it.</summary>
internal static class WorkItemPayload
{
    public static JsonElement? Parse(string? payload) => StoredJson.Parse(payload);
}

using System.Text.Json;

namespace BatchScheduler.Alerts;

/// <summary>One alert to POST: its JSON body, and what the log lines about its delivery name.</summary>
internal sealed record AlertMessage(string Kind, string DataType, string EntityId, string Body)
{
    public const string DeadLettered = "dead_lettered";
    public const string FailureRate = "failure_rate";
    public const string FailureRateRecovered = "failure_rate_recovered";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static AlertMessage ForDeadLetter(string dataType, string entityId, int attempt, string error, string nodeId, DateTimeOffset at) =>
        new(DeadLettered, dataType, entityId, JsonSerializer.Serialize(
            new { kind = DeadLettered, dataType, entityId, attempt, error, nodeId, at }, Json));

    public static AlertMessage ForFailureRate(
        string kind, string dataType, int failed, int executions, double rate, TimeSpan window, double threshold, DateTimeOffset at) =>
        new(kind, dataType, "", JsonSerializer.Serialize(
            new { kind, dataType, failed, executions, rate, window = window.ToString("c"), threshold, at }, Json));
}

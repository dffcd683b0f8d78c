namespace BatchScheduler.Alerts;

/// <summary>Log lines about the alert webhook. Event ids 1800-1809 are the alerts' and stay stable.</summary>
internal static partial class AlertLog
{
    [LoggerMessage(1800, LogLevel.Information, "Alert {Kind} for {DataType} {EntityId} delivered to the webhook (attempt {Attempt})")]
    public static partial void Delivered(ILogger logger, string kind, string dataType, string entityId, int attempt);

    [LoggerMessage(1801, LogLevel.Warning, "Alert {Kind} for {DataType} {EntityId}: webhook attempt {Attempt} failed: {Reason}; next attempt at {NextAt:u}")]
    public static partial void AttemptFailed(ILogger logger, string kind, string dataType, string entityId, int attempt, string reason, DateTimeOffset nextAt);

    [LoggerMessage(1802, LogLevel.Error, "Alert {Kind} for {DataType} {EntityId}: gave up after {Attempts} webhook attempts: {Reason}")]
    public static partial void GaveUp(ILogger logger, string kind, string dataType, string entityId, int attempts, string reason);

    [LoggerMessage(1803, LogLevel.Warning, "Alert {Kind} for {DataType} {EntityId} dropped: the alert queue is full ({Dropped} dropped since start)")]
    public static partial void Dropped(ILogger logger, string kind, string dataType, string entityId, long dropped);

    [LoggerMessage(1804, LogLevel.Warning, "Failure rate of {DataType} is {Rate:0.###} ({Failed} of {Executions} executions over {Window}), at or above {Threshold}: alert sent by {NodeId}")]
    public static partial void RateAlert(ILogger logger, string dataType, double rate, int failed, int executions, TimeSpan window, double threshold, string nodeId);

    [LoggerMessage(1805, LogLevel.Information, "Failure rate of {DataType} is back under {Threshold} ({Failed} of {Executions} executions over {Window}): recovery sent by {NodeId}")]
    public static partial void RateRecovered(ILogger logger, string dataType, double threshold, int failed, int executions, TimeSpan window, string nodeId);

    [LoggerMessage(1806, LogLevel.Warning, "The failure-rate check failed: {Reason}; the next check tries again")]
    public static partial void CheckFailed(ILogger logger, string reason);

    [LoggerMessage(1807, LogLevel.Information, "Alerting is on: alerts are POSTed to {WebhookHost}")]
    public static partial void Enabled(ILogger logger, string webhookHost);
}

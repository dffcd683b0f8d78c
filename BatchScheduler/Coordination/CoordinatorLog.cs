using Microsoft.Extensions.Logging;

namespace BatchScheduler.Coordination;

/// <summary>
/// Every log line about a work item, with data type, entity id, attempt and node as properties.
/// Event ids 1000-1099 are the coordinator's and stay stable.
/// </summary>
internal static partial class CoordinatorLog
{
    [LoggerMessage(1000, LogLevel.Debug, "Starting {DataType}/{EntityId} attempt {Attempt} on {NodeId}")]
    public static partial void Starting(ILogger logger, string dataType, string entityId, int attempt, string nodeId);

    [LoggerMessage(1001, LogLevel.Information, "Completed {DataType}/{EntityId} attempt {Attempt} on {NodeId} in {DurationSeconds:0.000} s")]
    public static partial void Completed(ILogger logger, string dataType, string entityId, int attempt, string nodeId, double durationSeconds);

    // The stack trace is in failures.detail; the log line carries the type and the decision.
    [LoggerMessage(1002, LogLevel.Warning, "Failed {DataType}/{EntityId} attempt {Attempt} on {NodeId} with {ExceptionType}: {Reason}")]
    public static partial void Failed(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string exceptionType, string reason);

    [LoggerMessage(1003, LogLevel.Error, "Dead-lettered {DataType}/{EntityId} at attempt {Attempt} on {NodeId}: {Reason}")]
    public static partial void DeadLettered(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string reason);

    [LoggerMessage(1004, LogLevel.Warning, "Expired {DataType}/{EntityId} at attempt {Attempt} on {NodeId}: {Reason}")]
    public static partial void Expired(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string reason);

    [LoggerMessage(1005, LogLevel.Information, "Deferred {DataType}/{EntityId} attempt {Attempt} on {NodeId} until {RunAt:o}: {Reason}")]
    public static partial void Deferred(ILogger logger, string dataType, string entityId, int attempt, string nodeId, DateTimeOffset runAt, string reason);

    [LoggerMessage(1006, LogLevel.Warning, "Trigger for {DataType}/{EntityId} attempt {Attempt} on {NodeId} does not run: {Why}; removing the trigger")]
    public static partial void NotRunnable(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string why);

    [LoggerMessage(1020, LogLevel.Information, "Not starting {DataType}/{EntityId} attempt {Attempt} on {NodeId}: it or its data type is paused; it runs once on resume (due {DueAt:o})")]
    public static partial void Paused(ILogger logger, string dataType, string entityId, int attempt, string nodeId, DateTimeOffset dueAt);

    [LoggerMessage(1007, LogLevel.Error, "Trigger for {DataType}/{EntityId} attempt {Attempt} on {NodeId} names a data type that is not configured here; leaving it for a node that knows it (retried in 30 s)")]
    public static partial void UnknownDataType(ILogger logger, string dataType, string entityId, int attempt, string nodeId);

    [LoggerMessage(1008, LogLevel.Warning, "Handing back {DataType}/{EntityId} attempt {Attempt} on {NodeId}: the node is shutting down")]
    public static partial void HandedBack(ILogger logger, string dataType, string entityId, int attempt, string nodeId);

    [LoggerMessage(1010, LogLevel.Warning, "Not starting {DataType}/{EntityId} attempt {Attempt} on {NodeId}: it is in flight on {BusyNode}")]
    public static partial void SkippedBusy(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string busyNode);

    [LoggerMessage(1009, LogLevel.Information, "Retrying {DataType}/{EntityId} after attempt {Attempt} on {NodeId} at {RunAt:o}: {Reason}")]
    public static partial void Retrying(ILogger logger, string dataType, string entityId, int attempt, string nodeId, DateTimeOffset runAt, string reason);

    [LoggerMessage(1019, LogLevel.Warning, "Cancelled {DataType}/{EntityId} attempt {Attempt} (fence {Fence}) on {NodeId}: {Reason}")]
    public static partial void Cancelled(ILogger logger, string dataType, string entityId, int attempt, long fence, string nodeId, string reason);

    [LoggerMessage(1016, LogLevel.Debug, "Skipping a stale firing of {DataType}/{EntityId} (attempt {Attempt}) on {NodeId}: due at {DueAt:O}, it started since, at {LastStart:O}")]
    public static partial void SkippedStale(ILogger logger, string dataType, string entityId, int attempt, string nodeId, DateTimeOffset dueAt, DateTimeOffset lastStart);
}

using Microsoft.Extensions.Logging;

namespace BatchScheduler.Coordination;

/// <summary>
/// Log lines about timeouts and cancels of running attempts, with data type, entity id, attempt and node
/// as properties. Event ids 2700-2709 are theirs and stay stable.
/// </summary>
internal static partial class AttemptControlLog
{
    [LoggerMessage(2700, LogLevel.Warning, "Executor of {DataType}/{EntityId} attempt {Attempt} on {NodeId} ignores its cancellation ({Reason}): still running {GraceSeconds:0.#} s later; its outcome is written now, and it keeps its slot here until it returns")]
    public static partial void IgnoredCancel(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string reason, double graceSeconds);

    [LoggerMessage(2701, LogLevel.Warning, "Executor of {DataType}/{EntityId} attempt {Attempt} on {NodeId} returned after {DurationSeconds:0.000} s, past its timeout or cancel: its slot is free again; what it did is not written")]
    public static partial void ReturnedLate(ILogger logger, string dataType, string entityId, int attempt, string nodeId, double durationSeconds);

    [LoggerMessage(2702, LogLevel.Error, "Could not write the outcome of {DataType}/{EntityId} attempt {Attempt} on {NodeId} whose executor ignores its cancellation: {Reason}; written when it returns")]
    public static partial void OverdueNotWritten(ILogger logger, string dataType, string entityId, int attempt, string nodeId, string reason);

    [LoggerMessage(2703, LogLevel.Information, "Cancel of {DataType}/{EntityId} (fence {Fence}) asked by {By}; it runs on {OwnerNode}")]
    public static partial void CancelAsked(ILogger logger, string dataType, string entityId, long fence, string by, string ownerNode);

    [LoggerMessage(2704, LogLevel.Warning, "Cancelling {DataType}/{EntityId} (fence {Fence}) on {NodeId}: {Reason}")]
    public static partial void Cancelling(ILogger logger, string dataType, string entityId, long fence, string nodeId, string reason);

    [LoggerMessage(2705, LogLevel.Warning, "Could not read the cancels asked of running attempts on {NodeId}: {Reason}")]
    public static partial void CancelCheckFailed(ILogger logger, string nodeId, string reason);
}

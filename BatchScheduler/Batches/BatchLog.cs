namespace BatchScheduler.Batches;

/// <summary>Log lines about batches, with the batch id as a property. Event ids 1500-1599 are the batches' and stay stable.</summary>
internal static partial class BatchLog
{
    [LoggerMessage(1500, LogLevel.Information, "Batch {BatchId}: receiving a {ContentType} file for data type {DataType}")]
    public static partial void Received(ILogger logger, string batchId, string dataType, string contentType);

    [LoggerMessage(1501, LogLevel.Information, "Batch {BatchId}: validated {Total} records ({Invalid} invalid) from {Bytes} bytes")]
    public static partial void Validated(ILogger logger, string batchId, int total, int invalid, long bytes);

    [LoggerMessage(1502, LogLevel.Warning, "Batch {BatchId}: the file was rejected: {Reason}")]
    public static partial void Rejected(ILogger logger, string batchId, string reason);

    [LoggerMessage(1503, LogLevel.Debug, "Batch {BatchId}: registered {Count} records, through line {Line}")]
    public static partial void Registered(ILogger logger, string batchId, int count, long line);

    [LoggerMessage(1504, LogLevel.Information, "Batch {BatchId}: cancelled")]
    public static partial void Cancelled(ILogger logger, string batchId);

    [LoggerMessage(1505, LogLevel.Warning, "Batch {BatchId}: its deadline {Deadline:u} passed; what had not run is expired")]
    public static partial void Expired(ILogger logger, string batchId, DateTimeOffset deadline);

    [LoggerMessage(1506, LogLevel.Debug, "Batch {BatchId}: {DataType}/{EntityId} started while the batch withdrew it; it finishes and its record settles then")]
    public static partial void StartedWhileWithdrawn(ILogger logger, string batchId, string dataType, string entityId);

    [LoggerMessage(1507, LogLevel.Information, "Batch {BatchId}: finished {Status}: {Succeeded} succeeded, {Failed} failed, {Invalid} invalid of {Total}")]
    public static partial void Finished(ILogger logger, string batchId, string status, int succeeded, int failed, int invalid, int total);

    [LoggerMessage(1508, LogLevel.Information, "Batch {BatchId}: callback delivered to {Url} (attempt {Attempt})")]
    public static partial void CallbackDelivered(ILogger logger, string batchId, string url, int attempt);

    [LoggerMessage(1509, LogLevel.Warning, "Batch {BatchId}: callback to {Url} failed (attempt {Attempt}): {Reason}; next attempt at {NextAt:u}")]
    public static partial void CallbackFailed(ILogger logger, string batchId, string url, int attempt, string reason, DateTimeOffset nextAt);

    [LoggerMessage(1510, LogLevel.Information, "Batch {BatchId}: archived (work items pruned, records kept)")]
    public static partial void Archived(ILogger logger, string batchId);

    [LoggerMessage(1511, LogLevel.Error, "Batch monitor: a round failed; it tries again next round")]
    public static partial void RoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(1512, LogLevel.Warning, "Batch {BatchId}: its upload stopped without an end (node stopped?); marked failed")]
    public static partial void Abandoned(ILogger logger, string batchId);

    [LoggerMessage(1513, LogLevel.Error, "Batch {BatchId}: the upload stopped on an error in the node; marked failed: {Reason}")]
    public static partial void UploadFailed(ILogger logger, string batchId, string reason, Exception exception);
}

namespace BatchScheduler.Batches;

/// <summary>A batch's lifecycle: <c>validating → in_progress → completed | partial_success | failed | expired | cancelled → archived</c>.</summary>
internal static class BatchStatuses
{
    public const string Validating = "validating";
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string PartialSuccess = "partial_success";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";
    public const string Archived = "archived";

    public static readonly IReadOnlyList<string> All =
        [Validating, InProgress, Completed, PartialSuccess, Failed, Expired, Cancelled, Archived];

    /// <summary>Validating or in progress: the batch may still change.</summary>
    public static bool IsActive(string status) => status is Validating or InProgress;
}

/// <summary>What became of one record of a batch's file (<c>batch_records.outcome</c>; null while its item has not finished).</summary>
internal static class RecordOutcomes
{
    public const string Invalid = "invalid";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";
}

/// <summary>A <c>batches</c> row.</summary>
internal sealed record BatchRow(
    string Id,
    string DataType,
    string Status,
    string? Outcome,
    string ContentType,
    long Bytes,
    int Total,
    int Invalid,
    long RegisteredLine,
    DateTimeOffset? Deadline,
    string? CallbackUrl,
    int CallbackAttempts,
    DateTimeOffset? CallbackNextAt,
    DateTimeOffset? CallbackDeliveredAt,
    string? CallbackLastError,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ValidatedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? ArchivedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The last line of the file that holds a record (0 before validation ends).</summary>
    public long LastLine { get; init; }
}

/// <summary>One record to store: valid (Outcome null) or invalid (Outcome <c>invalid</c>, Reason why); RunAt the record's <c>runAt</c> (UTC).</summary>
internal sealed record BatchRecordRow(
    long Line, string? EntityId, string? DataType, string? Tier, string? Payload, string? Outcome, string? Reason, DateTimeOffset? RunAt = null);

/// <summary>Counts of a batch's records by what became of them; <see cref="Pending"/> have not finished yet.</summary>
internal sealed record BatchCounts(int Total, int Succeeded, int Failed, int Invalid, int Expired, int Cancelled, int Pending)
{
    /// <summary>Failed in the summary sense: failed, expired or cancelled records (total = succeeded + failed + invalid + pending).</summary>
    public int NotSucceeded => Failed + Expired + Cancelled;
}

/// <summary>A batch as <c>GET /api/batches/{id}</c> shows it.</summary>
internal sealed record BatchSummary(
    string Id,
    string DataType,
    string Status,
    string? Outcome,
    int Total,
    int Succeeded,
    int Failed,
    int Invalid,
    int Pending,
    int Expired,
    int Cancelled,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ValidatedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? Deadline,
    string? Error);

/// <summary>One line of a batch's results or errors.</summary>
internal sealed record BatchRecordOutput(long Line, string? EntityId, string? DataType, string Outcome, string? Reason);

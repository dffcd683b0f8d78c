namespace BatchScheduler.Configuration;

/// <summary>
/// How much of a JSON request body a node reads (section <c>RequestLimits</c>). A body is read into
/// one buffer no larger than its route's byte limit and its values counted before anything is built
/// from it, so what one request can make a node hold is bounded by these settings, not by what a
/// client sends. Batch files stream and have their own per-record limit (<c>Batches:MaxRecordBytes</c>).
/// </summary>
internal sealed class RequestLimitsOptions
{
    public const string Section = "RequestLimits";

    /// <summary>The largest body of <c>PUT /api/work-items/{dataType}/{entityId}</c> (and of any other route but the bulk one), in bytes.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>The largest body of the bulk <c>POST /api/work-items</c>, in bytes.</summary>
    public int MaxBulkBodyBytes { get; set; } = 8 * 1_048_576;

    /// <summary>The most items one bulk <c>POST /api/work-items</c> may register.</summary>
    public int MaxBulkItems { get; set; } = 10_000;

    /// <summary>The most JSON values (objects, arrays, strings, numbers, true, false, null) one body may hold.</summary>
    public int MaxJsonValues { get; set; } = 250_000;
}

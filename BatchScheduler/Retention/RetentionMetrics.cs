using System.Diagnostics.Metrics;
using BatchScheduler.Observability;

namespace BatchScheduler.Retention;

/// <summary><c>batchscheduler_retention_deleted_rows_total</c>: rows this node's retention passes deleted, by table.</summary>
internal sealed class RetentionMetrics
{
    private readonly Counter<long> _deleted;

    public RetentionMetrics(SchedulerMetrics metrics) =>
        _deleted = metrics.Meter.CreateCounter<long>("retention_deleted_rows_total", null,
            "Rows this node's retention deleted, by table (failures, stats_minutely, audit_log, work_items).");

    public void Deleted(string table, long rows)
    {
        if (rows > 0)
            _deleted.Add(rows, new KeyValuePair<string, object?>("table", table));
    }
}

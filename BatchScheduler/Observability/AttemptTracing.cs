using System.Collections.Concurrent;
using System.Diagnostics;

namespace BatchScheduler.Observability;

/// <summary>
/// The engine's <see cref="ActivitySource"/> ("BatchScheduler"): one span per attempt whose executor is
/// called, current while the executor runs (so its outgoing HTTP calls carry the span's
/// <c>traceparent</c>) and ended once the attempt's outcome is written. The engine adds no exporter: an
/// app listens with <c>AddOpenTelemetry().WithTracing(t =&gt; t.AddSource("BatchScheduler"))</c>.
/// Without a listener <see cref="Start"/> returns null and costs one check.
/// </summary>
internal static class AttemptTracing
{
    public const string SourceName = "BatchScheduler";

    public const string DataTypeTag = "batchscheduler.data_type";
    public const string EntityIdTag = "batchscheduler.entity_id";
    public const string AttemptTag = "batchscheduler.attempt";
    public const string NodeTag = "batchscheduler.node";

    /// <summary>How the attempt settled: the <c>outcome</c> label of <c>batchscheduler_executions_total</c>.</summary>
    public const string OutcomeTag = "batchscheduler.outcome";

    public static readonly ActivitySource Source = new(SourceName);

    // Span names are per data type ("attempt reminders"): built once, not per attempt.
    private static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.Ordinal);

    /// <summary>Starts the attempt's span, current from here on; null when nothing listens (or samples it out).</summary>
    public static Activity? Start(string dataType, string entityId, int attempt, string nodeId)
    {
        if (!Source.HasListeners())
            return null;
        var activity = Source.StartActivity(Names.GetOrAdd(dataType, static t => $"attempt {t}"), ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(DataTypeTag, dataType);
            activity.SetTag(EntityIdTag, entityId);
            activity.SetTag(AttemptTag, attempt);
            activity.SetTag(NodeTag, nodeId);
        }
        return activity;
    }

    /// <summary>Records how the attempt settled; a failure (retrying, dead-lettered, expired) sets the status to Error with <paramref name="error"/>.</summary>
    public static void Settled(Activity? activity, FiringOutcome outcome, string? error = null)
    {
        if (activity is null)
            return;
        activity.SetTag(OutcomeTag, SchedulerMetrics.Label(outcome));
        if (error is not null)
            activity.SetStatus(ActivityStatusCode.Error, error);
    }
}

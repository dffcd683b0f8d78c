using System.Diagnostics.Metrics;

namespace BatchScheduler.Observability;

/// <summary>How the coordinator settled a firing of a work item.</summary>
internal enum FiringOutcome
{
    /// <summary>The executor returned; the item is <c>completed</c>.</summary>
    Succeeded,

    /// <summary>The executor threw and a retry is scheduled (<c>retrying</c>).</summary>
    Failed,

    /// <summary>The last allowed attempt failed (<c>dead_lettered</c>).</summary>
    DeadLettered,

    /// <summary>Past the expiry window, before the start or instead of a retry (<c>expired</c>).</summary>
    Expired,

    /// <summary>Runs again later without counting an attempt: credits, dependencies, HTTP 429, shutdown (<c>deferred</c>).</summary>
    Deferred,
}

/// <summary>
/// The node's <see cref="Meter"/> ("BatchScheduler"). The coordinator reports each settled firing
/// through <see cref="AttemptFinished"/>, which also feeds the per-minute aggregate (<see cref="Stats.MinuteStats"/>); cluster-wide gauges are served from the snapshot that
/// <see cref="ClusterGauges"/> publishes, so observing them never touches the database.
/// </summary>
/// <remarks>
/// Instrument names are chosen so that the Prometheus exporter's <c>meter_instrument</c> names come
/// out as documented (<c>batchscheduler_executions_total</c>, …).
/// </remarks>
internal sealed class SchedulerMetrics
{
    public const string MeterName = "BatchScheduler";

    private static readonly string[] OutcomeLabels = ["succeeded", "failed", "dead_lettered", "expired", "deferred"];

    private readonly TimeProvider _time;
    private readonly Stats.MinuteStats _minutes;
    private readonly Counter<long> _executions;
    private readonly Counter<long> _deadLettered;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _dueToStart;
    private readonly Counter<long> _cancelled;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _overdue = new(StringComparer.Ordinal);
    private volatile ClusterSnapshot _cluster = ClusterSnapshot.None;

    public SchedulerMetrics(IMeterFactory meters, TimeProvider time, Stats.MinuteStats minutes)
    {
        _time = time;
        _minutes = minutes;
        Meter = meters.Create(MeterName);
        _executions = Meter.CreateCounter<long>("executions_total", null,
            "Firings settled by this node, by data type and outcome (succeeded, failed, dead_lettered, expired, deferred).");
        _deadLettered = Meter.CreateCounter<long>("dead_lettered_total", null, "Items this node dead-lettered, by data type.");
        _duration = Meter.CreateHistogram("execution_duration_seconds", "s",
            "From updates_start to the attempt's outcome, for attempts whose executor was called, by data type.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] });
        _dueToStart = Meter.CreateHistogram("due_to_start_seconds", "s",
            "From when the firing was due to the attempt's start, by data type.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] });

        _cancelled = Meter.CreateCounter<long>("attempts_cancelled_total", null,
            "Attempts this node stopped by cancelling their token, by data type and cause (timeout, operator).");
        Meter.CreateObservableGauge("attempts_overdue", ObserveOverdue, null,
            "Attempts whose executor ignored the cancel of a timeout or an operator: their outcome is written, but they still run and hold a slot on this node, by data type.");
        Meter.CreateObservableGauge("items", () => _cluster.Items, null,
            "Work items by data type and state, as of the last cluster refresh.");
        Meter.CreateObservableGauge("vendor_credits_remaining", () => _cluster.CreditsRemaining, null,
            "Credits of the vendor's current window not yet reserved by any node, as of the last cluster refresh.");
        Meter.CreateObservableGauge("vendor_credits_budget", () => _cluster.CreditsBudget, null, "Credits per window of the vendor.");
        Meter.CreateObservableGauge("worker_nodes_live", () => _cluster.LiveWorkers, null,
            "Worker nodes whose check-in is live, as this node sees them at the last cluster refresh.");
        Meter.CreateObservableGauge("node_checkin_age_seconds", () => _cluster.CheckinAges, "s",
            "Seconds since each checked-in node's last check-in, at the last cluster refresh.");
        Meter.CreateObservableGauge("cluster_gauges_age_seconds", ObserveRefreshAge, "s",
            "Seconds since the cluster gauges (items, vendor credits, nodes) were last refreshed from the database.");
    }

    /// <summary>The meter every instrument of this node belongs to (one per node, not per process).</summary>
    public Meter Meter { get; }

    /// <summary>When the cluster gauges were last refreshed; null before the first refresh.</summary>
    public DateTimeOffset? ClusterRefreshedAt => _cluster.RefreshedAt;

    /// <summary>The Prometheus label value of <paramref name="outcome"/>.</summary>
    public static string Label(FiringOutcome outcome) => OutcomeLabels[(int)outcome];

    /// <summary>
    /// One firing settled: counted by outcome; <paramref name="duration"/> (start to outcome) and
    /// <paramref name="dueToStart"/> (due to start) are null when the executor was not called
    /// (expired before the start, deferred for credits or dependencies).
    /// </summary>
    public void AttemptFinished(string dataType, FiringOutcome outcome, TimeSpan? duration, TimeSpan? dueToStart)
    {
        var type = new KeyValuePair<string, object?>("data_type", dataType);
        _executions.Add(1, type, new KeyValuePair<string, object?>("outcome", OutcomeLabels[(int)outcome]));
        if (outcome == FiringOutcome.DeadLettered)
            _deadLettered.Add(1, type);
        if (duration is { } d)
            _duration.Record(Math.Max(0, d.TotalSeconds), type);
        if (dueToStart is { } delay)
            _dueToStart.Record(Math.Max(0, delay.TotalSeconds), type);
        _minutes.Record(dataType, outcome, dueToStart, duration);
    }

    /// <summary>An attempt was stopped by its timeout or by an operator.</summary>
    public void AttemptCancelled(string dataType, Coordination.CancelCause cause) =>
        _cancelled.Add(1, new KeyValuePair<string, object?>("data_type", dataType),
            new KeyValuePair<string, object?>("cause", cause == Coordination.CancelCause.TimedOut ? "timeout" : "operator"));

    /// <summary>An executor runs on past its timeout's or cancel's grace period (its outcome is written).</summary>
    public void Overdue(string dataType) => _overdue.AddOrUpdate(dataType, 1, (_, n) => n + 1);

    /// <summary>An overdue executor returned: its slot is free.</summary>
    public void OverdueReturned(string dataType) => _overdue.AddOrUpdate(dataType, 0, (_, n) => Math.Max(0, n - 1));

    private IEnumerable<Measurement<long>> ObserveOverdue() =>
        _overdue.Select(o => new Measurement<long>(o.Value, new KeyValuePair<string, object?>("data_type", o.Key)));

    /// <summary>Starts each data type's counters at 0, so the first failure already shows as an increase.</summary>
    public void StartCounters(IEnumerable<string> dataTypes)
    {
        foreach (var dataType in dataTypes)
        {
            var type = new KeyValuePair<string, object?>("data_type", dataType);
            foreach (var outcome in OutcomeLabels)
                _executions.Add(0, type, new KeyValuePair<string, object?>("outcome", outcome));
            _deadLettered.Add(0, type);
            foreach (var cause in new[] { "timeout", "operator" })
                _cancelled.Add(0, type, new KeyValuePair<string, object?>("cause", cause));
            _overdue.TryAdd(dataType, 0);
        }
    }

    /// <summary>Replaces the cluster gauges' values; called by <see cref="ClusterGauges"/> after each refresh.</summary>
    internal void Publish(ClusterSnapshot snapshot) => _cluster = snapshot;

    private IEnumerable<Measurement<double>> ObserveRefreshAge() =>
        _cluster.RefreshedAt is { } at ? [new Measurement<double>(Math.Max(0, (_time.GetUtcNow() - at).TotalSeconds))] : [];
}

/// <summary>The cluster gauges' values from one refresh, ready to be observed as they are.</summary>
internal sealed record ClusterSnapshot(
    DateTimeOffset? RefreshedAt,
    Measurement<long>[] Items,
    Measurement<long>[] CreditsRemaining,
    Measurement<long>[] CreditsBudget,
    Measurement<long>[] LiveWorkers,
    Measurement<double>[] CheckinAges)
{
    public static readonly ClusterSnapshot None = new(null, [], [], [], [], []);
}

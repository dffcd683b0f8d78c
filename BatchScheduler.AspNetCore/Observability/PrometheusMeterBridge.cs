using System.Buffers;
using System.Diagnostics.Metrics;
using Prometheus;

namespace BatchScheduler.Observability;

/// <summary>
/// Publishes one <see cref="Meter"/> instance to a prometheus-net registry with Prometheus's own
/// types: a counter stays a counter, a histogram keeps the buckets its instrument advises, and an
/// observable gauge shows exactly the series its last observation reported.
/// </summary>
/// <remarks>
/// prometheus-net's own meter adapter exports counters as gauges and drops series unused for a day
/// at most, so a dead-letter after a quiet day would start a new series that <c>increase()</c> does
/// not see. It also listens to every meter of the name in the process, where tests run several
/// nodes. This bridge listens to one meter instance. Each instrument's measurements carry the same
/// tag keys in the same order (the first measurement's keys become the label names); recording
/// through an existing label set allocates nothing.
/// </remarks>
internal sealed class PrometheusMeterBridge : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<ObservedGauge> _gauges = [];
    private readonly Lock _collecting = new();

    public PrometheusMeterBridge(Meter meter, CollectorRegistry registry)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        var prefix = meter.Name.ToLowerInvariant() + "_";
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != meter)
                return;
            Series series = instrument switch
            {
                Counter<long> => new CounterSeries(factory, prefix, instrument),
                Histogram<double> h => new HistogramSeries(factory, prefix, h),
                ObservableGauge<long> or ObservableGauge<double> => Track(new ObservedGauge(factory, prefix, instrument)),
                _ => throw new NotSupportedException($"{instrument.GetType().Name} {instrument.Name} has no Prometheus mapping here."),
            };
            listener.EnableMeasurementEvents(instrument, series);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Series)state!).Record(value, tags));
        _listener.Start();
        registry.AddBeforeCollectCallback(ObserveGauges);
    }

    private ObservedGauge Track(ObservedGauge gauge)
    {
        lock (_collecting)
            _gauges.Add(gauge);
        return gauge;
    }

    /// <summary>Before each scrape: the gauges' callbacks report, and series they no longer report go.</summary>
    private void ObserveGauges()
    {
        lock (_collecting)
        {
            foreach (var gauge in _gauges)
                gauge.BeginRound();
            _listener.RecordObservableInstruments();
            foreach (var gauge in _gauges)
                gauge.EndRound();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One instrument's Prometheus collector, created at its first measurement (that is when its label names are known).</summary>
    private abstract class Series(string name, string help)
    {
        private readonly Lock _creating = new();
        private string[]? _labelNames;

        protected string Name { get; } = name;

        protected string Help { get; } = help;

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (!Matches(tags))
                return; // other tag keys than the first measurement's: not representable under these label names
            var values = ArrayPool<string>.Shared.Rent(tags.Length);
            try
            {
                for (var i = 0; i < tags.Length; i++)
                    values[i] = tags[i].Value as string ?? Convert.ToString(tags[i].Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
                Record(value, values.AsSpan(0, tags.Length));
            }
            finally
            {
                ArrayPool<string>.Shared.Return(values, clearArray: true);
            }
        }

        protected abstract void Create(string[] labelNames);

        protected abstract void Record(double value, ReadOnlySpan<string> labelValues);

        private bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var names = Volatile.Read(ref _labelNames);
            if (names is null)
            {
                lock (_creating)
                {
                    if (_labelNames is null)
                    {
                        var created = new string[tags.Length];
                        for (var i = 0; i < tags.Length; i++)
                            created[i] = tags[i].Key;
                        Create(created);
                        Volatile.Write(ref _labelNames, created);
                    }
                    names = _labelNames;
                }
            }
            if (names.Length != tags.Length)
                return false;
            for (var i = 0; i < names.Length; i++)
            {
                if (!string.Equals(names[i], tags[i].Key, StringComparison.Ordinal))
                    return false;
            }
            return true;
        }
    }

    private sealed class CounterSeries(IMetricFactory factory, string prefix, Instrument instrument)
        : Series(prefix + instrument.Name, instrument.Description ?? "")
    {
        private Prometheus.Counter? _counter;

        protected override void Create(string[] labelNames) =>
            _counter = factory.CreateCounter(Name, Help, labelNames);

        protected override void Record(double value, ReadOnlySpan<string> labelValues) =>
            _counter!.WithLabels(labelValues).Inc(value);
    }

    private sealed class HistogramSeries(IMetricFactory factory, string prefix, Histogram<double> instrument)
        : Series(prefix + instrument.Name, instrument.Description ?? "")
    {
        private Prometheus.Histogram? _histogram;

        protected override void Create(string[] labelNames) =>
            _histogram = factory.CreateHistogram(Name, Help, labelNames, new HistogramConfiguration
            {
                Buckets = instrument.Advice?.HistogramBucketBoundaries?.ToArray() ?? Prometheus.Histogram.ExponentialBuckets(0.01, 2, 16),
            });

        protected override void Record(double value, ReadOnlySpan<string> labelValues) =>
            _histogram!.WithLabels(labelValues).Observe(value);
    }

    /// <summary>An observable gauge: what one observation round reports is what the scrape shows.</summary>
    private sealed class ObservedGauge(IMetricFactory factory, string prefix, Instrument instrument)
        : Series(prefix + instrument.Name, instrument.Description ?? "")
    {
        private Gauge? _gauge;
        private HashSet<string[]> _previous = new(LabelValuesComparer.Instance);
        private HashSet<string[]> _current = new(LabelValuesComparer.Instance);

        protected override void Create(string[] labelNames) =>
            _gauge = factory.CreateGauge(Name, Help, labelNames);

        protected override void Record(double value, ReadOnlySpan<string> labelValues)
        {
            _gauge!.WithLabels(labelValues).Set(value);
            _current.Add(labelValues.ToArray()); // per scrape, not per execution
        }

        public void BeginRound() => _current.Clear();

        public void EndRound()
        {
            foreach (var gone in _previous)
            {
                if (!_current.Contains(gone))
                    _gauge?.RemoveLabelled(gone);
            }
            (_previous, _current) = (_current, _previous);
        }
    }

    private sealed class LabelValuesComparer : IEqualityComparer<string[]>
    {
        public static readonly LabelValuesComparer Instance = new();

        public bool Equals(string[]? x, string[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(string[] values)
        {
            var hash = new HashCode();
            foreach (var value in values)
                hash.Add(value, StringComparer.Ordinal);
            return hash.ToHashCode();
        }
    }
}

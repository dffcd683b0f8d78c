using System.Diagnostics.Metrics;
using BatchScheduler.Observability;
using Prometheus;

namespace BatchScheduler.Tests.Observability;

/// <summary>The meter-to-Prometheus bridge on its own: types, one meter instance only, gauges that follow their observations.</summary>
public sealed class PrometheusMeterBridgeTests
{
    private static async Task<MetricsScrape> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return MetricsScrape.Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public async Task Counter_IsExportedAsACounterOfThisMeterInstanceOnly()
    {
        using var meter = new Meter("BatchScheduler");
        using var sameNameElsewhere = new Meter("BatchScheduler"); // another node in the same process
        var counter = meter.CreateCounter<long>("executions_total");
        var other = sameNameElsewhere.CreateCounter<long>("executions_total");
        var registry = Metrics.NewCustomRegistry();
        using var bridge = new PrometheusMeterBridge(meter, registry);

        counter.Add(2, new KeyValuePair<string, object?>("data_type", "x"), new KeyValuePair<string, object?>("outcome", "succeeded"));
        counter.Add(1, new KeyValuePair<string, object?>("data_type", "x"), new KeyValuePair<string, object?>("outcome", "succeeded"));
        other.Add(5, new KeyValuePair<string, object?>("data_type", "x"), new KeyValuePair<string, object?>("outcome", "succeeded"));
        var scrape = await ScrapeAsync(registry);

        Assert.Equal("counter", scrape.TypeOf("batchscheduler_executions_total"));
        Assert.Equal(3, scrape.Value("batchscheduler_executions_total{data_type=\"x\",outcome=\"succeeded\"}"));
    }

    [Fact]
    public async Task Histogram_UsesTheBucketsItsInstrumentAdvises()
    {
        using var meter = new Meter("BatchScheduler");
        var histogram = meter.CreateHistogram("wait_seconds", "s", null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 10] });
        var registry = Metrics.NewCustomRegistry();
        using var bridge = new PrometheusMeterBridge(meter, registry);

        histogram.Record(0.5, new KeyValuePair<string, object?>("data_type", "x"));
        histogram.Record(5, new KeyValuePair<string, object?>("data_type", "x"));
        histogram.Record(50, new KeyValuePair<string, object?>("data_type", "x"));
        var scrape = await ScrapeAsync(registry);

        Assert.Equal(["1", "10", "+Inf"], scrape.SeriesOf("batchscheduler_wait_seconds_bucket").Select(s => s.Split("le=\"")[1].TrimEnd('"', '}')));
        Assert.Equal(1, scrape.Value("batchscheduler_wait_seconds_bucket{data_type=\"x\",le=\"1\"}"));
        Assert.Equal(2, scrape.Value("batchscheduler_wait_seconds_bucket{data_type=\"x\",le=\"10\"}"));
        Assert.Equal(3, scrape.Value("batchscheduler_wait_seconds_count{data_type=\"x\"}"));
    }

    [Fact]
    public async Task ObservableGauge_SeriesNoLongerObserved_IsGoneFromTheNextScrape()
    {
        using var meter = new Meter("BatchScheduler");
        var nodes = new List<string> { "a", "b" };
        meter.CreateObservableGauge("node_checkin_age_seconds", () => nodes.Select(n => new Measurement<double>(1.5, new KeyValuePair<string, object?>("node", n))).ToList());
        var registry = Metrics.NewCustomRegistry();
        using var bridge = new PrometheusMeterBridge(meter, registry);

        var first = await ScrapeAsync(registry);
        nodes.Remove("a");
        var second = await ScrapeAsync(registry);

        Assert.Equal(1.5, first.Value("batchscheduler_node_checkin_age_seconds{node=\"a\"}"));
        Assert.Equal(1.5, first.Value("batchscheduler_node_checkin_age_seconds{node=\"b\"}"));
        Assert.Null(second.Value("batchscheduler_node_checkin_age_seconds{node=\"a\"}"));
        Assert.Equal(1.5, second.Value("batchscheduler_node_checkin_age_seconds{node=\"b\"}"));
    }
}

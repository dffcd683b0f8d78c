using BatchScheduler.Configuration;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;
using Prometheus;

namespace BatchScheduler.Observability;

/// <summary>
/// Publishes this node's <see cref="SchedulerMetrics"/> meter, with prometheus-net's process and
/// .NET runtime metrics, in a registry of the node's own (several nodes may share a process).
/// </summary>
internal sealed class PrometheusExporter(
    SchedulerMetrics metrics, DataTypeCatalog catalog, IOptions<ClusterOptions> cluster, CollectorRegistry registry) : IHostedService, IDisposable
{
    private PrometheusMeterBridge? _bridge;

    /// <summary>What <c>/metrics</c> serves: the node's own registry (a DI singleton, so mapping the route constructs nothing else).</summary>
    public CollectorRegistry Registry { get; } = registry;

    /// <summary>Starts listening before Quartz starts, so no execution goes uncounted.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        DotNetStats.Register(Registry);
        _bridge = new PrometheusMeterBridge(metrics.Meter, Registry);
        // An api node runs nothing: it shows no execution series of its own.
        if (cluster.Value.Role == NodeRoles.Worker)
            metrics.StartCounters(catalog.All.Select(d => d.Name));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _bridge?.Dispose();
}

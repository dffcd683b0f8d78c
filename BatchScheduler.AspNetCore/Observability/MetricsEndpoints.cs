using BatchScheduler.Api;
using Microsoft.AspNetCore.Http.Metadata;
using Prometheus;

namespace BatchScheduler.Observability;

/// <summary>Wiring of the metrics: the meter, the Prometheus export and the cluster gauges' refresh; <c>/metrics</c>.</summary>
internal static class MetricsEndpoints
{
    /// <summary>Registers the Prometheus export of the engine's meter; call before the hosted services that execute work items.</summary>
    public static IServiceCollection AddPrometheusExport(this IServiceCollection services)
    {
        services.AddSingleton(_ => Metrics.NewCustomRegistry());
        services.AddSingleton<PrometheusExporter>();
        services.AddHostedService(sp => sp.GetRequiredService<PrometheusExporter>());
        return services;
    }

    /// <summary><c>/metrics</c> in Prometheus text format, for the viewer role like the API.</summary>
    public static IEndpointRouteBuilder MapSchedulerMetrics(this IEndpointRouteBuilder app)
    {
        // Only the registry is resolved here: settings are validated when the node starts, not while routes are mapped.
        app.MapMetrics("/metrics", app.ServiceProvider.GetRequiredService<CollectorRegistry>())
            .RequireAuthorization(ApiPolicies.Viewer)
            .Describe([HttpMethods.Get], "Metrics", "Metrics", "Prometheus metrics",
                "Executions by data type and outcome, execution duration and due-to-start histograms, dead-letters (this node's), "
                + "items by state, vendor credits and node check-ins (the cluster's, refreshed every 15 s), in Prometheus text format.",
                new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), ["text/plain"]));
        return app;
    }
}

using BatchScheduler.Outbound;

namespace BatchScheduler.Alerts;

/// <summary>Wires the optional alert webhook (section <c>Alerts</c>).</summary>
internal static class AlertServiceCollectionExtensions
{
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddSingleton<AlertSender>();
        services.AddSingleton<FailureRateMonitor>();
        services.AddOutboundHttpClient(AlertSender.HttpClientName) // every connection checked against the outbound policy
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan); // each attempt has its own limit
        services.AddHostedService(sp => sp.GetRequiredService<AlertSender>());
        services.AddHostedService(sp => sp.GetRequiredService<FailureRateMonitor>());
        return services;
    }
}

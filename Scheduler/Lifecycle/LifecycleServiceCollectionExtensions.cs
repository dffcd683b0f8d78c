using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Lifecycle;

internal static class LifecycleServiceCollectionExtensions
{
    /// <summary>The item's lifecycle owner and the coordinator's two halves; <paramref name="worker"/> adds the lease watch of running attempts.</summary>
    public static IServiceCollection AddItemLifecycle(this IServiceCollection services, bool worker)
    {
        services.AddSingleton<ItemLocks>();
        services.AddSingleton<ItemRows>();
        services.AddSingleton(sp => new ItemLifecycle(sp.GetRequiredService<ItemLocks>(), sp.GetRequiredService<ItemRows>(),
            sp.GetRequiredService<WorkItemScheduler>(), sp.GetRequiredService<NodeIdentity>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ItemLifecycle>>()));
        services.AddSingleton<FiringAdmission>();
        services.AddSingleton<AttemptOutcomes>();
        if (worker)
            services.AddHostedService<AttemptLeaseWatch>();
        return services;
    }
}

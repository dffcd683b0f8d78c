using BatchScheduler.Configuration;
using BatchScheduler.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Lifecycle;

internal static class LifecycleServiceCollectionExtensions
{
    /// <summary>The item's lifecycle owner.</summary>
    public static IServiceCollection AddItemLifecycle(this IServiceCollection services)
    {
        services.AddSingleton<ItemLocks>();
        services.AddSingleton<ItemRows>();
        services.AddSingleton(sp => new ItemLifecycle(sp.GetRequiredService<ItemLocks>(), sp.GetRequiredService<ItemRows>(),
            sp.GetRequiredService<WorkItemScheduler>(), sp.GetRequiredService<NodeIdentity>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ItemLifecycle>>(), sp.GetRequiredService<Coordination.RunningItems>()));
        return services;
    }
}

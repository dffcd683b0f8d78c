using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Coordination;

internal static class CoordinationServiceCollectionExtensions
{
    /// <summary>The coordinator's two halves; <paramref name="worker"/> adds the lease watch of running attempts.</summary>
    public static IServiceCollection AddCoordination(this IServiceCollection services, bool worker)
    {
        services.AddSingleton<FiringAdmission>();
        services.AddSingleton<AttemptOutcomes>();
        if (worker)
            services.AddHostedService<AttemptLeaseWatch>();
        return services;
    }
}

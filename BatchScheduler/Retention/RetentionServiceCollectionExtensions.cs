using BatchScheduler.Configuration;
using BatchScheduler.Hosting;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Retention;

/// <summary>Registers retention: its settings (section <c>Retention</c>), the pass and the service that runs it on every node.</summary>
internal static class RetentionServiceCollectionExtensions
{
    public static IServiceCollection AddRetention(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSettingsSection<RetentionOptions>(configuration, RetentionOptions.Section);
        services.AddSingleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidator>();
        services.AddSingleton<RetentionMetrics>();
        services.AddSingleton<RetentionPass>();
        services.AddHostedService<RetentionService>();
        return services;
    }
}

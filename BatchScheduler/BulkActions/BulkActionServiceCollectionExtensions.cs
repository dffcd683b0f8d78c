using BatchScheduler.Configuration;
using BatchScheduler.Hosting;
using Microsoft.Extensions.Options;

namespace BatchScheduler.BulkActions;

/// <summary>Registers bulk actions: their settings (section <c>BulkActions</c>), store and runner.</summary>
internal static class BulkActionServiceCollectionExtensions
{
    /// <summary>Register after Quartz: the runner then stops before it, marking its running actions interrupted.</summary>
    public static IServiceCollection AddBulkActions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSettingsSection<BulkActionOptions>(configuration, BulkActionOptions.Section);
        services.AddSingleton<IValidateOptions<BulkActionOptions>, BulkActionOptionsValidator>();
        services.AddSingleton<BulkActionStore>();
        services.AddSingleton<BulkActionRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<BulkActionRunner>());
        return services;
    }
}

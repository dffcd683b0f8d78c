using BatchScheduler.Configuration;
using BatchScheduler.Executors.BuiltIn;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Hosting;

/// <summary>Binds every settings section to its typed options and validates them on start.</summary>
internal static class SettingsServiceCollectionExtensions
{
    public static IServiceCollection AddBatchSchedulerSettings(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section)).ValidateOnStart();
        services.AddOptions<ClusterOptions>().Bind(configuration.GetSection(ClusterOptions.Section)).ValidateOnStart();
        services.AddOptions<AdminOptions>().Bind(configuration.GetSection(AdminOptions.Section)).ValidateOnStart();
        services.AddOptions<DemoOptions>().Bind(configuration.GetSection(DemoOptions.Section)).ValidateOnStart();
        services.AddOptions<BatchOptions>().Bind(configuration.GetSection(BatchOptions.Section)).ValidateOnStart();
        services.AddOptions<AlertOptions>().Bind(configuration.GetSection(AlertOptions.Section)).ValidateOnStart();
        services.AddOptions<OutboundOptions>().Bind(configuration.GetSection(OutboundOptions.Section)).ValidateOnStart();
        services.AddOptions<RequestLimitsOptions>().Bind(configuration.GetSection(RequestLimitsOptions.Section)).ValidateOnStart();
        services.AddOptions<VendorsOptions>().Configure(o => NamedSectionBinder.BindEach(configuration.GetSection(VendorOptions.Section), o.Items))
            .ValidateOnStart();
        services.AddOptions<DataTypesOptions>()
            .Configure(o => NamedSectionBinder.BindEach(configuration.GetSection(DataTypeOptions.Section), o.Items, NamedSectionBinder.BindCadence))
            .ValidateOnStart();
        foreach (var dataType in configuration.GetSection(DataTypeOptions.Section).GetChildren())
        {
            services.Configure<HttpExecutorOptions>(dataType.Key, dataType.GetSection("Http"));
            services.Configure<DemoExecutorOptions>(dataType.Key, dataType.GetSection("Demo"));
        }
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddSingleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>();
        services.AddSingleton<IValidateOptions<BatchOptions>, BatchOptionsValidator>();
        services.AddSingleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>();
        services.AddSingleton<IValidateOptions<OutboundOptions>, OutboundOptionsValidator>();
        services.AddSingleton<IValidateOptions<RequestLimitsOptions>, RequestLimitsOptionsValidator>();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.AddSingleton<IValidateOptions<DemoOptions>, DemoOptionsValidator>();
        services.AddSingleton<IValidateOptions<VendorsOptions>, VendorsOptionsValidator>();
        services.AddSingleton<IValidateOptions<DataTypesOptions>, DataTypesOptionsValidator>();
        return services;
    }
}

using BatchScheduler.Configuration;
using BatchScheduler.Executors.BuiltIn;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Hosting;

/// <summary>Binds every settings section to its typed options and validates them on start.</summary>
internal static class SettingsServiceCollectionExtensions
{
    public static IServiceCollection AddBatchSchedulerSettings(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(new SettingsRoot(configuration));
        services.AddSettingsSection<StorageOptions>(configuration, StorageOptions.Section);
        services.AddSettingsSection<ClusterOptions>(configuration, ClusterOptions.Section);
        services.AddSettingsSection<AdminOptions>(configuration, AdminOptions.Section);
        services.AddSettingsSection<DemoOptions>(configuration, DemoOptions.Section);
        services.AddSettingsSection<BatchOptions>(configuration, BatchOptions.Section);
        services.AddSettingsSection<AlertOptions>(configuration, AlertOptions.Section);
        services.AddSettingsSection<OutboundOptions>(configuration, OutboundOptions.Section);
        services.AddSettingsSection<RequestLimitsOptions>(configuration, RequestLimitsOptions.Section);
        services.AddOptions<VendorsOptions>().Configure(o => NamedSectionBinder.BindEach(configuration.GetSection(VendorOptions.Section), o.Items))
            .ValidateOnStart();
        services.AddOptions<DataTypesOptions>()
            .Configure(o => NamedSectionBinder.BindEach(configuration.GetSection(DataTypeOptions.Section), o.Items, NamedSectionBinder.BindCadence))
            .ValidateOnStart();
        var anyName = SettingsSection.AnyName;
        services.AddSingleton(new SettingsSection($"{VendorOptions.Section}:{anyName}", typeof(VendorOptions)));
        services.AddSingleton(new SettingsSection($"{DataTypeOptions.Section}:{anyName}", typeof(DataTypeOptions)));
        services.AddSingleton(new SettingsSection($"{DataTypeOptions.Section}:{anyName}:Http", typeof(HttpExecutorOptions)));
        services.AddSingleton(new SettingsSection($"{DataTypeOptions.Section}:{anyName}:Demo", typeof(DemoExecutorOptions)));
        services.AddOptions<SettingKeysOptions>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<SettingKeysOptions>, SettingKeysValidator>();
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

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="section"/>, validated on start, and records the
    /// section so that keys under it that no property binds are refused (<see cref="SettingKeysValidator"/>).
    /// </summary>
    public static OptionsBuilder<TOptions> AddSettingsSection<TOptions>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
    {
        services.AddSingleton(new SettingsSection(section, typeof(TOptions)));
        return services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateOnStart();
    }
}

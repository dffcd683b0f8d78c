using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>The executors usable from configuration alone, by name.</summary>
internal static class BuiltInExecutors
{
    /// <summary>Name of <see cref="NoopExecutor"/>.</summary>
    public const string Noop = "noop";

    /// <summary>Name of <see cref="HttpExecutor"/>.</summary>
    public const string Http = "http";

    /// <summary>Name of <see cref="DemoExecutor"/>.</summary>
    public const string Demo = "demo";

    /// <summary>
    /// Registers <c>noop</c>, <c>http</c> and <c>demo</c>, the <see cref="HttpExecutor.HttpClientName"/>
    /// client and <see cref="TimeProvider.System"/> unless a clock is already registered.
    /// Per-data-type options are registered by the host as named options.
    /// </summary>
    public static IServiceCollection AddBuiltInExecutors(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions();
        services.AddHttpClient(HttpExecutor.HttpClientName);
        services.AddExecutor<NoopExecutor>(Noop);
        services.AddExecutor<HttpExecutor>(Http);
        services.AddExecutor<DemoExecutor>(Demo);
        return services;
    }
}

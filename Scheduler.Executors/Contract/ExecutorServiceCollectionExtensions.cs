using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Executors.Contract;

/// <summary>Names an executor registered in code; data types refer to it by that name.</summary>
internal sealed record ExecutorRegistration(string Name, Type ExecutorType);

/// <summary>Registration of executors in code.</summary>
public static class ExecutorServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TExecutor"/> under <paramref name="name"/>, the value a data
    /// type's <c>Executor</c> setting uses. A later registration under the same name wins.
    /// </summary>
    public static IServiceCollection AddExecutor<TExecutor>(this IServiceCollection services, string name)
        where TExecutor : class, IWorkItemExecutor
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.AddKeyedSingleton<IWorkItemExecutor, TExecutor>(name);
        services.AddSingleton(new ExecutorRegistration(name, typeof(TExecutor)));
        return services;
    }

    /// <summary>Registers an executor instance under <paramref name="name"/>.</summary>
    public static IServiceCollection AddExecutor(this IServiceCollection services, string name, IWorkItemExecutor executor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(executor);
        services.AddKeyedSingleton(name, executor);
        services.AddSingleton(new ExecutorRegistration(name, executor.GetType()));
        return services;
    }
}

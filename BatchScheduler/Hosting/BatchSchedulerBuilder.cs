using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;

namespace BatchScheduler.Hosting;

/// <summary>
/// What an app adds to BatchScheduler in <c>AddBatchScheduler(section, bs => …)</c>: its store
/// (<c>UseSqlite</c>, <c>UsePostgreSql</c> or <c>UseSqlServer</c>, from the store packages) and its executors.
/// </summary>
public sealed class BatchSchedulerBuilder
{
    internal BatchSchedulerBuilder(IServiceCollection services, IConfiguration configuration)
    {
        Services = services;
        Configuration = configuration;
    }

    /// <summary>The app's services, for anything its executors need.</summary>
    public IServiceCollection Services { get; }

    /// <summary>BatchScheduler's settings (the section given to <c>AddBatchScheduler</c>).</summary>
    public IConfiguration Configuration { get; }

    internal StoreDriver? Store { get; private set; }

    /// <summary>The connection string given with the store; null when it comes from <c>Storage:ConnectionString</c>.</summary>
    internal string? ConnectionString { get; private set; }

    /// <summary>
    /// Registers <typeparamref name="TExecutor"/> as the executor named <paramref name="name"/>; a data type
    /// runs it with <c>DataTypes:&lt;type&gt;:Executor</c> set to that name. One instance serves every item.
    /// </summary>
    public BatchSchedulerBuilder AddExecutor<TExecutor>(string name)
        where TExecutor : class, IWorkItemExecutor
    {
        Services.AddExecutor<TExecutor>(name);
        return this;
    }

    /// <summary>Registers <paramref name="executor"/> as the executor named <paramref name="name"/>.</summary>
    public BatchSchedulerBuilder AddExecutor(string name, IWorkItemExecutor executor)
    {
        Services.AddExecutor(name, executor);
        return this;
    }

    /// <summary>The store a store package's <c>Use…</c> method chose; a given connection string wins over <c>Storage:ConnectionString</c>.</summary>
    internal BatchSchedulerBuilder UseStore(StoreDriver driver, string? connectionString)
    {
        if (Store is not null && Store.Provider != driver.Provider)
            throw new InvalidOperationException($"BatchScheduler already uses the {Store.Provider} store; an app has one store (Use{driver.Provider} was called after Use{Store.Provider}).");
        if (connectionString is not null)
            ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Store = driver;
        ConnectionString = connectionString;
        return this;
    }
}

namespace BatchScheduler.Storage;

/// <summary>Registers what a node's store needs besides its connections.</summary>
internal static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The SQLite file's owner lock (<see cref="SqliteOwnerLock"/>), as a hosted service. Register it
    /// before every hosted service that touches the store: hosted services start in registration
    /// order, and nothing may read or migrate the file before the lock is held. A no-op for other providers.
    /// </summary>
    public static IServiceCollection AddSqliteOwnerLock(this IServiceCollection services)
    {
        services.AddSingleton<SqliteOwnerLock>();
        services.AddHostedService(sp => sp.GetRequiredService<SqliteOwnerLock>());
        return services;
    }
}

using System.Data.Common;
using BatchScheduler.Storage.Migrations;

namespace BatchScheduler.Storage;

/// <summary>
/// One database's client library, as a store package (BatchScheduler.Sqlite, .PostgreSql,
/// .SqlServer) brings it: the engine names no driver type, so an app carries only the driver of the
/// store it uses. Everything else about a provider (its SQL dialect, Quartz's delegate) is the
/// engine's and keyed by <see cref="Provider"/>.
/// </summary>
internal abstract class StoreDriver
{
    public abstract StorageProvider Provider { get; }

    /// <summary>Where pooled connections come from (the connection string as the node uses it).</summary>
    public abstract DbDataSource CreateDataSource(string connectionString);

    /// <summary>Parses <paramref name="connectionString"/>; throws <see cref="ArgumentException"/> when it is malformed.</summary>
    public abstract DbConnectionStringBuilder ParseConnectionString(string connectionString);

    /// <summary>
    /// How many connections the pool of <paramref name="connectionString"/> hands out at most; null when it has
    /// no bound (SQLite's pool, pooling turned off).
    /// </summary>
    public virtual int? MaxPoolSize(string connectionString) => null;

    /// <summary>The connection string Quartz's job store is given (a driver may tune it as for its own connections).</summary>
    public virtual string ForQuartz(string connectionString) => connectionString;

    /// <summary>How schema migrations reach this database and keep two runs apart.</summary>
    public abstract IMigrationTarget MigrationTarget(string connectionString, ILogger logger);

    /// <summary>Services to register before every hosted service that touches the store (they start in registration order).</summary>
    public virtual void AddFirstServices(IServiceCollection services)
    {
    }

    /// <summary>Services a worker node runs besides Quartz (registered after it).</summary>
    public virtual void AddWorkerServices(IServiceCollection services)
    {
    }
}

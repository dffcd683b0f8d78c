using System.Data.Common;
using BatchScheduler.Configuration;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Storage;

/// <summary>Opens connections to the configured store and knows its SQL dialect.</summary>
internal sealed class ConnectionFactory : IAsyncDisposable
{
    private readonly DbDataSource _source;

    public ConnectionFactory(IOptions<StorageOptions> options, StoreDriver driver)
    {
        Provider = options.Value.Provider;
        if (driver.Provider != Provider)
            throw new InvalidOperationException($"Storage:Provider is {Provider}, but the {driver.Provider} store was registered.");
        Dialect = SqlDialect.For(Provider);
        _source = driver.CreateDataSource(options.Value.ConnectionString);
        MaxPoolSize = driver.MaxPoolSize(options.Value.ConnectionString);
    }

    /// <summary>How many connections <see cref="OpenAsync"/> hands out at once at most (null: no bound).</summary>
    public int? MaxPoolSize { get; }

    public StorageProvider Provider { get; }

    public SqlDialect Dialect { get; }

    /// <summary>The data source connections come from (Quartz's too, on SQLite).</summary>
    public DbDataSource DataSource => _source;

    /// <summary>Opens a pooled connection.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = _source.CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}

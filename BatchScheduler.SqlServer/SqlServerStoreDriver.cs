using System.Data.Common;
using BatchScheduler.Storage.Migrations;
using Microsoft.Data.SqlClient;

namespace BatchScheduler.Storage;

/// <summary>SQL Server through Microsoft.Data.SqlClient: clusters, on the same code path as PostgreSQL.</summary>
internal sealed class SqlServerStoreDriver : StoreDriver
{
    public override StorageProvider Provider => StorageProvider.SqlServer;

    public override DbDataSource CreateDataSource(string connectionString) => SqlClientFactory.Instance.CreateDataSource(connectionString);

    public override DbConnectionStringBuilder ParseConnectionString(string connectionString) => new SqlConnectionStringBuilder(connectionString);

    public override int? MaxPoolSize(string connectionString) =>
        new SqlConnectionStringBuilder(connectionString) is { Pooling: true } builder ? builder.MaxPoolSize : null;

    public override IMigrationTarget MigrationTarget(string connectionString, ILogger logger) => new SqlServerMigrationTarget(connectionString, logger);
}

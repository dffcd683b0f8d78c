using System.Data.Common;
using BatchScheduler.Storage.Migrations;
using Microsoft.Data.Sqlite;

namespace BatchScheduler.Storage;

/// <summary>SQLite through Microsoft.Data.Sqlite: one node per database file, held by <see cref="SqliteOwnerLock"/>.</summary>
internal sealed class SqliteStoreDriver : StoreDriver
{
    public override StorageProvider Provider => StorageProvider.Sqlite;

    public override DbDataSource CreateDataSource(string connectionString) => new SqliteTunedDataSource(connectionString);

    public override DbConnectionStringBuilder ParseConnectionString(string connectionString) => new SqliteConnectionStringBuilder(connectionString);

    public override IMigrationTarget MigrationTarget(string connectionString, ILogger logger) => new SqliteMigrationTarget(connectionString);

    // First: no hosted service touches a SQLite file before this node holds it.
    public override void AddFirstServices(IServiceCollection services) => services.AddSqliteOwnerLock();
}

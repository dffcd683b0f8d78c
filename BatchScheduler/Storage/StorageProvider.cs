namespace BatchScheduler.Storage;

/// <summary>The database a node keeps its Quartz tables and work-item state in.</summary>
public enum StorageProvider
{
    /// <summary>Embedded SQLite file: the default, one node only (Quartz refuses to cluster on SQLite).</summary>
    Sqlite,

    /// <summary>PostgreSQL: clusters of any number of nodes.</summary>
    Postgres,

    /// <summary>SQL Server through Microsoft.Data.SqlClient: same code path as PostgreSQL.</summary>
    SqlServer,
}

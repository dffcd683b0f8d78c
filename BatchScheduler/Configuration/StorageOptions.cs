using BatchScheduler.Storage;

namespace BatchScheduler.Configuration;

/// <summary>Where the node keeps Quartz's tables and the work-item state (section <c>Storage</c>).</summary>
internal sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary><c>Sqlite</c> (default, one node), <c>Postgres</c> or <c>SqlServer</c>.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>ADO.NET connection string for <see cref="Provider"/>.</summary>
    public string ConnectionString { get; set; } = "Data Source=batchscheduler.db";

    /// <summary>Apply pending schema migrations when the node starts (always on for SQLite).</summary>
    public bool MigrateOnStart { get; set; } = true;
}

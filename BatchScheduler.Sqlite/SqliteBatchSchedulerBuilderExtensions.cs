using BatchScheduler.Hosting;
using BatchScheduler.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The Sqlite store for BatchScheduler.</summary>
public static class SqliteBatchSchedulerBuilderExtensions
{
    /// <summary>
    /// Keeps BatchScheduler's Quartz tables and work items in SQLite, the embedded file store: one node per file. The schema is created or
    /// migrated on start (<c>Storage:MigrateOnStart</c>).
    /// </summary>
    /// <param name="builder">The builder <c>AddBatchScheduler</c> passes.</param>
    /// <param name="connectionString">An ADO.NET connection string; null to take <c>Storage:ConnectionString</c> from the settings.</param>
    public static BatchSchedulerBuilder UseSqlite(this BatchSchedulerBuilder builder, string? connectionString = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(new SqliteStoreDriver(), connectionString);
    }
}

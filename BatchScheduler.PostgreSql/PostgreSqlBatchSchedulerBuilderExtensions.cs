using BatchScheduler.Hosting;
using BatchScheduler.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The PostgreSql store for BatchScheduler.</summary>
public static class PostgreSqlBatchSchedulerBuilderExtensions
{
    /// <summary>
    /// Keeps BatchScheduler's Quartz tables and work items in PostgreSQL: clusters of any number of nodes. The schema is created or
    /// migrated on start (<c>Storage:MigrateOnStart</c>).
    /// </summary>
    /// <param name="builder">The builder <c>AddBatchScheduler</c> passes.</param>
    /// <param name="connectionString">An ADO.NET connection string; null to take <c>Storage:ConnectionString</c> from the settings.</param>
    public static BatchSchedulerBuilder UsePostgreSql(this BatchSchedulerBuilder builder, string? connectionString = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(new PostgreSqlStoreDriver(), connectionString);
    }
}

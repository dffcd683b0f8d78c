using BatchScheduler.Hosting;
using BatchScheduler.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The SqlServer store for BatchScheduler.</summary>
public static class SqlServerBatchSchedulerBuilderExtensions
{
    /// <summary>
    /// Keeps BatchScheduler's Quartz tables and work items in SQL Server through Microsoft.Data.SqlClient: clusters. The schema is created or
    /// migrated on start (<c>Storage:MigrateOnStart</c>).
    /// </summary>
    /// <param name="builder">The builder <c>AddBatchScheduler</c> passes.</param>
    /// <param name="connectionString">An ADO.NET connection string; null to take <c>Storage:ConnectionString</c> from the settings.</param>
    public static BatchSchedulerBuilder UseSqlServer(this BatchSchedulerBuilder builder, string? connectionString = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.UseStore(new SqlServerStoreDriver(), connectionString);
    }
}

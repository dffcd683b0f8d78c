using BatchScheduler.Storage;
using Quartz;

namespace BatchScheduler.Tests.Storage.Migrations;

/// <summary>A standalone Quartz.NET scheduler on an ADO.NET job store, configured the way the host's is.</summary>
internal static class QuartzTestScheduler
{
    /// <param name="provision">
    /// False keeps Quartz's default <c>SchemaProvisioning.Validate</c>; true lets Quartz create its own tables,
    /// which only the schema-comparison tests want.
    /// </param>
    public static StandaloneSchedulerFactory Build(StorageProvider provider, string connectionString, bool provision) =>
        QuartzSchedulerBuilder.Create(q =>
        {
            q.ConfigureScheduler(s => s.InstanceName = $"bs-test-{Guid.NewGuid():N}");
            q.UseDefaultThreadPool(2);
            q.UsePersistentStore(store =>
            {
                if (provider == StorageProvider.Postgres)
                {
                    store.UsePostgres(connectionString);
                    store.UseClustering(c => c.CheckinInterval = TimeSpan.FromSeconds(1));
                }
                else
                {
                    store.UseSqlite(connectionString);
                }

                store.UseSystemTextJsonSerializer();
                if (provision)
                    store.ProvisionSchema();
            });
        }).Build();
}

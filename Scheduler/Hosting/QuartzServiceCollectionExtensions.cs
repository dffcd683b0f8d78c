using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Quartz;

namespace BatchScheduler.Hosting;

/// <summary>Quartz: a clustered ADO.NET job store on the configured database, one durable job per data type.</summary>
internal static class QuartzServiceCollectionExtensions
{
    public static IServiceCollection AddBatchSchedulerQuartz(
        this IServiceCollection services, StorageOptions storage, ClusterOptions cluster, NodeIdentity node)
    {
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = cluster.SchedulerName;
                s.InstanceId = node.Id;
            });
            q.UseDefaultThreadPool(Math.Max(1, cluster.MaxConcurrency));
            q.UsePersistentStore(store =>
            {
                store.UseSystemTextJsonSerializer();
                switch (storage.Provider)
                {
                    case StorageProvider.Postgres:
                        store.UsePostgres(storage.ConnectionString);
                        break;
                    case StorageProvider.SqlServer:
                        store.UseSqlServer(storage.ConnectionString);
                        break;
                    default:
                        store.UseSqlite(storage.ConnectionString);
                        break;
                }
                // SQLite is one node: Quartz refuses to cluster on it.
                if (storage.Provider != StorageProvider.Sqlite)
                    store.UseClustering(c => c.CheckinInterval = cluster.CheckinInterval);
            });
        });
        if (cluster.Role == NodeRoles.Worker)
            services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        return services;
    }
}

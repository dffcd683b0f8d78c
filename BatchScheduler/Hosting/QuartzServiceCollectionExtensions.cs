using BatchScheduler.Time;
using BatchScheduler.Configuration;
using BatchScheduler.Limits;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using Quartz;
using Microsoft.Extensions.Options;
using Quartz.Extensibility;

namespace BatchScheduler.Hosting;

/// <summary>Quartz: a clustered ADO.NET job store on the configured database, one durable job per data type.</summary>
internal static class QuartzServiceCollectionExtensions
{
    /// <summary>
    /// How overdue a trigger must be before Quartz treats it as misfired: effectively never. Well
    /// beyond <see cref="WorkItemTriggers.NeverRunLead"/>, so a never-run item's early first firing
    /// is not taken for a misfire (which would move it to "now", behind the backlog).
    /// </summary>
    public static readonly TimeSpan MisfireThreshold = TimeSpan.FromDays(365);

    public static IServiceCollection AddBatchSchedulerQuartz(
        this IServiceCollection services, StorageOptions storage, StoreDriver driver, ClusterOptions cluster, NodeIdentity node)
    {
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = cluster.SchedulerName;
                s.InstanceId = node.Id;
                // Quartz's default idle wait is 30 s: an item registered through another node would
                // wait that long on an idle one. A cheap acquisition query per second instead.
                s.IdleWaitTime = cluster.IdleWaitTime < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : cluster.IdleWaitTime;
                // SQLite, without set-based rounds: Quartz acquires and fires up to a free thread's worth of due
                // triggers per lock and transaction, not one (its default), which bounded the drain to one
                // acquisition and one firing transaction per execution on the scheduler's single loop.
                if (storage.Provider == StorageProvider.Sqlite)
                    s.MaxBatchSize = Math.Max(1, cluster.MaxConcurrency);
            });
            q.UseDefaultThreadPool(Math.Max(1, cluster.MaxConcurrency));
            // Concurrency limits per data type and node pools (issue 22): Quartz's own execution limits.
            q.UseExecutionLimits((provider, limits) => provider.GetRequiredService<DataTypeLimits>().Apply(limits));
            q.UsePersistentStore(store =>
            {
                // Quiet hours are a calendar of BatchScheduler's own (Time.QuietHoursCalendar), stored as readable JSON.
                store.UseSystemTextJsonSerializer(json => json.AddCalendarSerializer(new QuietHoursCalendarSerializer()));
                // Lateness is the data types' Expiry, not Quartz's misfire handling. With Quartz's 60 s
                // threshold, a trigger overdue longer was moved to "now" by the misfire handler, behind
                // younger overdue ones, so a backlog stopped draining stalest first. Overdue triggers
                // are now acquired by their due time however late; the coordinator moves a recurring
                // item's trigger on when it fires behind schedule, so nothing fires once per missed interval.
                store.ConfigureStore(o =>
                {
                    o.MisfireThreshold = MisfireThreshold;
                    o.MisfireHandlerFrequency = TimeSpan.FromMinutes(1);
                });
                // Before the database is chosen, which then keeps this choice of delegate: Quartz's own, or with
                // a data type's per-node limit in its cluster count when one has both (Limits.BothLimitsCount).
                if (storage.Provider != StorageProvider.Sqlite)
                    store.UseDriverDelegate(provider => BothLimitsCount.DelegateFor(storage.Provider, provider.GetRequiredService<DataTypeLimits>(), node.Id));
                switch (storage.Provider)
                {
                    case StorageProvider.Postgres:
                        store.UsePostgres(driver.ForQuartz(storage.ConnectionString));
                        break;
                    case StorageProvider.SqlServer:
                        store.UseSqlServer(storage.ConnectionString);
                        break;
                    default:
                        // Through the node's own data source, so that Quartz's connections get its settings (SqliteTunedDataSource).
                        store.UseSqlite(o => o.DataSourceFactory = provider => provider.GetRequiredService<ConnectionFactory>().DataSource);
                        break;
                }
                // SQLite is one node: Quartz refuses to cluster on it.
                if (storage.Provider != StorageProvider.Sqlite)
                    store.UseClustering(c => c.CheckinInterval = cluster.CheckinInterval);
            });
        });
        services.AddSingleton(provider => new DataTypeLimits(provider.GetRequiredService<IOptions<DataTypesOptions>>().Value,
            provider.GetRequiredService<IOptions<ClusterOptions>>().Value, clustered: storage.Provider != StorageProvider.Sqlite));
        services.AddSingleton<NodeDataTypesQuery>();
        // Recovered firings first (RecoveredFirings): set-based rounds move them; without those, this
        // decorator does once Quartz has started. Innermost, so BatchedCompletionJobStore stays outside.
        if (storage.Provider != StorageProvider.Postgres || !cluster.SetBasedFiring)
            services.DecorateJobStore((provider, inner) => new RecoveryFirstJobStore(inner,
                provider.GetRequiredService<ConnectionFactory>(), cluster.SchedulerName, MisfireThreshold, provider.GetRequiredService<TimeProvider>()));
        if (storage.Provider == StorageProvider.Postgres)
            services.DecorateJobStore((provider, inner) => new BatchedCompletionJobStore(inner,
                provider.GetRequiredService<ConnectionFactory>(), cluster.SchedulerName, provider.GetRequiredService<ILogger<BatchedCompletionJobStore>>(),
                cluster.SetBasedFiring
                    ? (Func<IJobStore, SetFiringRounds>)(store => new SetFiringRounds(provider.GetRequiredService<ConnectionFactory>(), cluster.SchedulerName, node.Id,
                        MisfireThreshold, provider.GetRequiredService<TimeProvider>(), key => store.GetJob(key), name => store.GetCalendar(name),
                        provider.GetRequiredService<DataTypeLimits>()))
                    : null));
        // Outermost: every firing and completion passes the gate a graceful shutdown closes.
        services.AddSingleton<FiringGate>();
        services.DecorateJobStore((provider, inner) => new GatedJobStore(inner, provider.GetRequiredService<FiringGate>()));
        if (cluster.Role == NodeRoles.Worker)
        {
            // Before Quartz starts: an earlier process of this node id must not keep its items "busy".
            services.AddHostedService<PredecessorRelease>();
            services.AddHostedService<NodeDataTypesPublisher>(); // before Quartz: the cluster sees what this node runs before it runs anything
            if (storage.Provider != StorageProvider.Sqlite)
                services.AddHostedService<ClusterCheckoutService>(); // stops after Quartz
            services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
            // Stops before Quartz does (hosted services stop in reverse order).
            services.AddHostedService<GracefulShutdownService>();
        }
        return services;
    }

    /// <summary>
    /// Wraps the job store <c>UsePersistentStore</c> registered (Quartz's own, internal) in a
    /// <see cref="Quartz.Impl.DelegatingJobStore"/> of ours, which Quartz resolves in its place. Called
    /// again, it wraps the store already decorated (tests wrap the node's this way).
    /// </summary>
    internal static void DecorateJobStore(this IServiceCollection services, Func<IServiceProvider, IJobStore, IJobStore> decorate)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(IJobStore) && !d.IsKeyedService && d.ImplementationFactory is not null)
            ?? throw new InvalidOperationException("Quartz registered no job store factory to decorate; has Quartz.NET's registration changed from 4.7.3?");
        var build = registered.ImplementationFactory!;
        services.Remove(registered);
        services.AddSingleton<IJobStore>(provider => decorate(provider, (IJobStore)build(provider)));
    }
}

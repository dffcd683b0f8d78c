using BatchScheduler.Alerts;
using BatchScheduler.BulkActions;
using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Demo;
using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Failures;
using BatchScheduler.Health;
using BatchScheduler.Lifecycle;
using BatchScheduler.Outbound;
using BatchScheduler.Observability;
using BatchScheduler.QuartzTables;
using BatchScheduler.Retention;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Hosting;

/// <summary>
/// Registers a node's engine: settings, store, Quartz (its own named scheduler), coordinator and the
/// background services, in the order they must start. Nothing process-wide: logging, JSON options,
/// authentication defaults and the host's shutdown timeout stay the app's (the <c>Scheduler</c>
/// executable sets its own in <c>NodeHost</c>).
/// </summary>
internal static class EngineComposition
{
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">BatchScheduler's settings: the keys <c>Storage</c>, <c>Cluster</c>, <c>DataTypes</c>, … at its top.</param>
    /// <param name="configure">The app's store and executors.</param>
    /// <param name="addMetricsExport">Registered before any hosted service that executes, so every execution is counted.</param>
    public static BatchSchedulerBuilder Add(IServiceCollection services, IConfiguration configuration,
        Action<BatchSchedulerBuilder>? configure, Action<IServiceCollection>? addMetricsExport = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var bs = new BatchSchedulerBuilder(services, configuration);
        configure?.Invoke(bs);
        var driver = bs.Store ?? throw new InvalidOperationException(
            "BatchScheduler has no store: call UseSqlite, UsePostgreSql or UseSqlServer (packages BatchScheduler.Sqlite, .PostgreSql, .SqlServer) in AddBatchScheduler.");

        var storage = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        storage.Provider = driver.Provider;
        if (bs.ConnectionString is { } connectionString)
            storage.ConnectionString = connectionString;
        var cluster = configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>() ?? new ClusterOptions();
        var node = NodeIdentity.Resolve(cluster, storage.Provider);

        services.AddSingleton(node);
        services.AddSingleton(driver);
        services.AddBatchSchedulerSettings(configuration);
        // The store the app chose wins over Storage:Provider (and its connection string over Storage:ConnectionString).
        services.PostConfigure<StorageOptions>(o =>
        {
            o.Provider = storage.Provider;
            o.ConnectionString = storage.ConnectionString;
        });
        services.AddBuiltInExecutors();
        services.AddSingleton<ConnectionFactory>();
        services.AddSingleton<SchemaMigrator>();
        services.AddSingleton<DataTypeCatalog>();
        services.AddSingleton<PostgresStatistics>();
        services.AddSingleton<WorkItemStore>();
        services.AddSingleton<WorkItemScheduler>();
        services.AddSingleton<ClusterWake>();
        services.AddSingleton<StuckTriggerRepair>();
        services.AddSingleton<WorkItemService>();
        services.AddSingleton<RunningItems>();
        services.AddSingleton<AttemptWriter>();
        services.AddSingleton<Credits.VendorCredits>();
        services.AddSingleton<Credits.VendorsQuery>();
        services.AddSingleton<ItemDependencies>();
        services.AddItemLifecycle();
        services.AddCoordination(worker: cluster.Role == NodeRoles.Worker);
        services.AddSingleton<FailureStore>();
        services.AddSingleton<Stats.MinuteStats>();
        services.AddSingleton<Stats.StatsQuery>();
        services.AddSingleton<Batches.BatchStore>();
        services.AddSingleton<Batches.BatchService>();
        services.AddSingleton<Batches.BatchMonitor>();
        services.AddOutboundHttpClient(Batches.BatchMonitor.HttpClientName); // every connection checked against the outbound policy
        services.AddSingleton<NodeStatusQuery>();
        services.AddSingleton<HealthQuery>();
        services.AddSingleton<SchedulerMetrics>();
        addMetricsExport?.Invoke(services); // before the hosted services that execute: every execution is counted
        services.AddSingleton<ClusterGauges>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterGauges>());

        // Hosted services start in this order: store lock, schema, durable jobs, trigger repair, Quartz, demo items.
        driver.AddFirstServices(services); // SQLite: no hosted service touches the file before this node holds it
        services.AddHostedService<SchemaMigrationService>();
        services.AddHostedService(sp => sp.GetRequiredService<PostgresStatistics>());
        services.AddHostedService<JobRegistrationService>();
        if (cluster.Role == NodeRoles.Worker)
        {
            services.AddHostedService<TriggerRepairService>();
            // Before Quartz, so they stop after Quartz: the last attempts' ends and credit use are written.
            services.AddHostedService(sp => sp.GetRequiredService<AttemptWriter>());
            services.AddHostedService(sp => sp.GetRequiredService<Credits.VendorCredits>());
        }
        services.AddAlerts(); // before Quartz, so the webhook sender stops after the coordinator's last dead-letters
        services.AddBatchSchedulerQuartz(storage, driver, cluster, node);
        services.AddBulkActions(configuration); // after Quartz: stops before it, marking its running actions interrupted
        if (cluster.Role == NodeRoles.Worker)
            driver.AddWorkerServices(services); // PostgreSQL: the wake-up listener
        services.AddHostedService(sp => sp.GetRequiredService<Batches.BatchMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<Stats.MinuteStats>());
        services.AddRetention(configuration); // issue 24: bounded tables (failures, stats_minutely, audit_log, completed one-shots)
        services.AddHostedService<DemoSeeder>();
        return bs;
    }
}

using BatchScheduler.Admin;
using BatchScheduler.Alerts;
using BatchScheduler.Api;
using BatchScheduler.BulkActions;
using BatchScheduler.Audit;
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
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Authentication;
using Serilog;
using Serilog.Core;

namespace BatchScheduler.Hosting;

/// <summary>Composes a node: settings, storage, Quartz, coordinator, API.</summary>
public static class NodeHost
{
    /// <summary>Where a node listens when neither <c>ASPNETCORE_URLS</c> nor <c>--urls</c> says.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// Builds a node from <paramref name="args"/> (configuration overrides such as
    /// <c>--Storage:Provider=Postgres</c>). <paramref name="configure"/> runs first, so embedding
    /// code and tests can add executors (<c>AddExecutor&lt;T&gt;</c>), a clock, log sinks or
    /// configuration sources that the node then reads. <paramref name="overrideServices"/> runs
    /// after the node's own registrations, so what it registers wins (e.g. a test executor that
    /// replaces a built-in one).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, Action<IServiceCollection>? overrideServices = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
            builder.WebHost.UseUrls(DefaultUrl);

        var configuration = builder.Configuration;
        var storage = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        var cluster = configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>() ?? new ClusterOptions();
        var node = NodeIdentity.Resolve(cluster, storage.Provider);
        var services = builder.Services;

        services.AddSingleton(node);
        services.AddSerilog((provider, logger) =>
        {
            // The host's own "failed to start" line repeats, with a stack trace, what the CLI
            // prints as one clear message; settings can lower this again.
            logger.MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", Serilog.Events.LogEventLevel.Fatal)
                .ReadFrom.Configuration(configuration)
                .Enrich.FromLogContext()
                .Enrich.WithProperty("NodeId", node.Id)
                .WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj}{NewLine}{Exception}");
            foreach (var sink in provider.GetServices<ILogEventSink>())
                logger.WriteTo.Sink(sink);
        }, preserveStaticLogger: true); // each node (several share a process in tests) keeps its own logger
        services.AddBatchSchedulerSettings(configuration);
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
        services.AddSingleton<Coordination.RunningItems>();
        services.AddSingleton<Coordination.AttemptWriter>();
        services.AddSingleton<Credits.VendorCredits>();
        services.AddSingleton<Credits.VendorsQuery>();
        services.AddSingleton<Coordination.ItemDependencies>();
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
        services.AddNodeHealthChecks();
        services.AddSchedulerMetrics(); // before the hosted services that execute: every execution is counted
        services.AddApiDocument();
        services.AddAudit();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);
        // Responses write numbers as numbers (bodies are read with JsonBody's own options), so the OpenAPI schemas say "integer", not "integer or string".
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        // AddAuthentication brings ASP.NET Core data protection, whose hosted service loads (and on
        // first start writes) an XML key ring under ~/.aspnet at start. API keys protect nothing with
        // it, so it does not start: no key files, and about 3 MB less resident (System.Private.Xml).
        foreach (var keyRingLoader in services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList())
            services.Remove(keyRingLoader);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Viewer, p => p.RequireRole(AdminRoles.Viewer, AdminRoles.Admin))
            .AddPolicy(ApiPolicies.Admin, p => p.RequireRole(AdminRoles.Admin));

        // Hosted services start in this order: schema, durable jobs, trigger repair, Quartz, demo items, banner.
        services.AddSqliteOwnerLock(); // first: no hosted service touches a SQLite file before this node holds it
        services.AddHostedService<SchemaMigrationService>();
        services.AddHostedService(sp => sp.GetRequiredService<PostgresStatistics>());
        services.AddHostedService<JobRegistrationService>();
        if (cluster.Role == NodeRoles.Worker)
        {
            services.AddHostedService<TriggerRepairService>();
            // Before Quartz, so they stop after Quartz: the last attempts' ends and credit use are written.
            services.AddHostedService(sp => sp.GetRequiredService<Coordination.AttemptWriter>());
            services.AddHostedService(sp => sp.GetRequiredService<Credits.VendorCredits>());
        }
        services.AddAlerts(); // before Quartz, so the webhook sender stops after the coordinator's last dead-letters
        services.AddBatchSchedulerQuartz(storage, cluster, node);
        services.AddBulkActions(configuration); // after Quartz: stops before it, marking its running actions interrupted
        if (cluster.Role == NodeRoles.Worker && storage.Provider == StorageProvider.Postgres)
            services.AddHostedService<ClusterWakeListener>();
        services.AddHostedService(sp => sp.GetRequiredService<Batches.BatchMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<Stats.MinuteStats>());
        services.AddHostedService<DemoSeeder>();
        services.AddHostedService<AddressBanner>();

        overrideServices?.Invoke(services);
        var app = builder.Build();
        app.UseDefaultBodyLimit();
        app.MapBatchScheduler();
        return app;
    }
}

using BatchScheduler.Admin;
using BatchScheduler.Configuration;
using BatchScheduler.Observability;
using BatchScheduler.Storage;
using Serilog;
using Serilog.Core;

namespace BatchScheduler.Hosting;

/// <summary>
/// Composes the executable's node from the packages (engine, API and dashboard, all three stores) and
/// makes the process-wide choices the packages leave to an app: Serilog's console (text or JSON), the
/// OTLP export of traces when configured, JSON options, the API key as the default authentication
/// scheme, no data-protection key ring, the shutdown timeout.
/// </summary>
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
        var services = builder.Services;

        services.AddSerilog((provider, logger) =>
        {
            // The host's own "failed to start" line repeats, with a stack trace, what the CLI
            // prints as one clear message; settings can lower this again.
            logger.MinimumLevel.Override("Microsoft.Extensions.Hosting.Internal.Host", Serilog.Events.LogEventLevel.Fatal)
                .ReadFrom.Configuration(configuration)
                .Enrich.FromLogContext()
                .Enrich.WithProperty("NodeId", provider.GetRequiredService<NodeIdentity>().Id)
                .WriteConsole(configuration); // Logging:Console:Format: text or json
            foreach (var sink in provider.GetServices<ILogEventSink>())
                logger.WriteTo.Sink(sink);
        }, preserveStaticLogger: true); // each node (several share a process in tests) keeps its own logger
        // The engine, API and dashboard, with the store Storage:Provider names (the executable carries all three).
        BatchSchedulerServiceCollectionExtensions.AddCore(services, configuration, bs => bs.UseStore(StoreFor(storage.Provider), connectionString: null));
        // The console log's format and, when an OTLP endpoint is configured, the export of the engine's spans.
        services.AddNodeTelemetry(configuration);

        // What the packages leave to the app, chosen here for the executable:
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);
        // Responses write numbers as numbers (bodies are read with JsonBody's own options), so the OpenAPI schemas say "integer", not "integer or string".
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        // The API key is the only scheme here, so it is the default: UseAuthentication runs it for every request.
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName);
        // AddAuthentication brings ASP.NET Core data protection, whose hosted service loads (and on
        // first start writes) an XML key ring under ~/.aspnet at start. API keys protect nothing with
        // it, so it does not start: no key files, and about 3 MB less resident (System.Private.Xml).
        foreach (var keyRingLoader in services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList())
            services.Remove(keyRingLoader);
        // Long enough for the graceful shutdown (Cluster:ShutdownGracePeriod) to let running attempts end.
        if (cluster.Role == NodeRoles.Worker)
            services.Configure<HostOptions>(o => o.ShutdownTimeout = cluster.ShutdownGracePeriod + TimeSpan.FromSeconds(30));
        services.AddHostedService<AddressBanner>();

        overrideServices?.Invoke(services);
        var app = builder.Build();
        app.MapBatchSchedulerAtRoot();
        return app;
    }

    /// <summary>The store package for <paramref name="provider"/>.</summary>
    internal static StoreDriver StoreFor(StorageProvider provider) => provider switch
    {
        StorageProvider.Postgres => new PostgreSqlStoreDriver(),
        StorageProvider.SqlServer => new SqlServerStoreDriver(),
        _ => new SqliteStoreDriver(),
    };
}

using BatchScheduler;
using BatchScheduler.Admin;
using BatchScheduler.Api;
using BatchScheduler.Audit;
using BatchScheduler.Configuration;
using BatchScheduler.Dashboard;
using BatchScheduler.Health;
using BatchScheduler.Hosting;
using BatchScheduler.Observability;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Adds BatchScheduler to an ASP.NET Core app's services.</summary>
    public static class BatchSchedulerServiceCollectionExtensions
    {
        /// <summary>
        /// Adds BatchScheduler: its engine (its own named Quartz scheduler, so the app's own Quartz jobs are
        /// untouched), the store and executors <paramref name="configure"/> names, and what
        /// <c>app.MapBatchScheduler("/jobs")</c> serves. <paramref name="configuration"/> holds the same keys as
        /// the <c>Scheduler</c> executable's settings (<c>Cluster</c>, <c>DataTypes</c>, <c>Vendors</c>, <c>Admin</c>, …),
        /// e.g. <c>builder.Configuration.GetSection("BatchScheduler")</c>. Nothing process-wide is changed: no
        /// default authentication scheme, JSON options, logging or shutdown timeout.
        /// </summary>
        public static IServiceCollection AddBatchScheduler(this IServiceCollection services, IConfiguration configuration,
            Action<BatchSchedulerBuilder> configure)
        {
            ArgumentNullException.ThrowIfNull(configure);
            AddCore(services, configuration, configure);
            return services;
        }

        /// <summary>The composition the executable shares; <paramref name="configure"/> may leave the store to the caller's settings.</summary>
        internal static BatchSchedulerBuilder AddCore(IServiceCollection services, IConfiguration configuration, Action<BatchSchedulerBuilder>? configure)
        {
            var bs = EngineComposition.Add(services, configuration, configure, s => s.AddPrometheusExport());
            services.AddNodeHealthChecks();
            services.AddApiDocument();
            services.AddAudit();
            services.AddAuthentication()
                .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
            services.AddAuthorizationBuilder()
                .AddPolicy(ApiPolicies.Viewer, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireRole(AdminRoles.Viewer, AdminRoles.Admin))
                .AddPolicy(ApiPolicies.Admin, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireRole(AdminRoles.Admin));
            services.AddOptions<BatchSchedulerAuthorization>();
            // The app's own policies, when it named them (UseAuthorizationPolicies), stand in for the API keys' roles.
            services.AddOptions<AuthorizationOptions>().PostConfigure<IOptions<BatchSchedulerAuthorization>>((options, chosen) =>
            {
                if (chosen.Value.ViewerPolicy is { } viewer)
                    options.AddPolicy(ApiPolicies.Viewer, HostPolicy(options, viewer));
                if ((chosen.Value.AdminPolicy ?? chosen.Value.ViewerPolicy) is { } admin)
                    options.AddPolicy(ApiPolicies.Admin, HostPolicy(options, admin));
            });
            return bs;
        }

        private static AuthorizationPolicy HostPolicy(AuthorizationOptions options, string name) =>
            options.GetPolicy(name) ?? throw new InvalidOperationException(
                $"BatchScheduler was told to use the authorization policy '{name}' (UseAuthorizationPolicies), but the app has no policy of that name.");
    }

    /// <summary>The ASP.NET Core side of <see cref="BatchSchedulerBuilder"/>.</summary>
    public static class BatchSchedulerBuilderWebExtensions
    {
        /// <summary>
        /// Guards BatchScheduler's API, dashboard data and metrics with the app's own authorization policies
        /// (added with <c>AddAuthorization</c>) instead of <c>Admin:ApiKeys</c>: <paramref name="viewerPolicy"/> to read,
        /// <paramref name="adminPolicy"/> (default: the viewer policy) to change things. The app's authentication
        /// (its default scheme, run by its <c>UseAuthentication</c>) says who the caller is; the audit trail records
        /// that name.
        /// </summary>
        public static BatchSchedulerBuilder UseAuthorizationPolicies(this BatchSchedulerBuilder builder, string viewerPolicy, string? adminPolicy = null)
        {
            ArgumentNullException.ThrowIfNull(builder);
            ArgumentException.ThrowIfNullOrWhiteSpace(viewerPolicy);
            builder.Services.Configure<BatchSchedulerAuthorization>(o =>
            {
                o.ViewerPolicy = viewerPolicy;
                o.AdminPolicy = adminPolicy;
            });
            return builder;
        }
    }
}

namespace BatchScheduler.Hosting
{
    /// <summary>The app's own authorization for BatchScheduler's routes, in place of <c>Admin:ApiKeys</c>.</summary>
    internal sealed class BatchSchedulerAuthorization
    {
        public string? ViewerPolicy { get; set; }

        public string? AdminPolicy { get; set; }
    }
}

namespace Microsoft.AspNetCore.Builder
{
    /// <summary>Serves BatchScheduler's API, dashboard, OpenAPI document, health checks and metrics in an ASP.NET Core app.</summary>
    public static class BatchSchedulerApplicationBuilderExtensions
    {
        /// <summary>
        /// Serves BatchScheduler under <paramref name="prefix"/> (e.g. <c>"/jobs"</c>): the dashboard at <c>/jobs/</c>,
        /// the API under <c>/jobs/api</c>, <c>/jobs/openapi/v1.json</c>, <c>/jobs/healthz</c> and <c>/jobs/metrics</c>.
        /// Its middleware (API-key authentication, audit, problem details for unknown routes, the body limit) runs
        /// only for requests under the prefix, in a branch of the app's pipeline.
        /// </summary>
        public static IApplicationBuilder MapBatchScheduler(this IApplicationBuilder app, string prefix)
        {
            ArgumentNullException.ThrowIfNull(app);
            var path = new PathString(prefix);
            if (!path.HasValue || path.Value == "/" || path.Value!.EndsWith('/'))
                throw new ArgumentException($"The prefix must be a path such as \"/jobs\" (was \"{prefix}\").", nameof(prefix));
            return app.Map(path, branch =>
            {
                // A branch of a WebApplication would otherwise route with the app's own endpoints, and add
                // BatchScheduler's to them, so they would answer outside the prefix too.
                branch.Properties.Remove("__GlobalEndpointRouteBuilder");
                // The dashboard's links are relative to /jobs/, so /jobs redirects there.
                branch.Use((context, next) =>
                {
                    if (context.Request.Path.HasValue)
                        return next(context);
                    context.Response.Redirect($"{context.Request.PathBase}/{context.Request.QueryString}");
                    return Task.CompletedTask;
                });
                branch.UseRouting();
                UsePipeline(branch, hostAuthentication: branch.ApplicationServices
                    .GetRequiredService<IOptions<BatchSchedulerAuthorization>>().Value.ViewerPolicy is not null);
                branch.UseEndpoints(endpoints => MapRoutes(endpoints));
            });
        }

        /// <summary>The executable's pipeline: BatchScheduler at the root, with the API key as the default scheme.</summary>
        internal static WebApplication MapBatchSchedulerAtRoot(this WebApplication app)
        {
            UsePipeline(app, hostAuthentication: true);
            MapRoutes(app);
            return app;
        }

        private static void UsePipeline(IApplicationBuilder app, bool hostAuthentication)
        {
            app.UseDefaultBodyLimit();
            app.UseProblemStatusPages(); // first: it wraps every answer after it, including the refusals of authentication
            if (hostAuthentication)
            {
                app.UseAuthentication();
            }
            else
            {
                // The caller as the API key says, for the audit trail (the policies authenticate with the same scheme).
                app.Use(async (context, next) =>
                {
                    var result = await context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName);
                    if (result.Succeeded)
                        context.User = result.Principal;
                    await next(context);
                });
            }
            app.UseAudit(); // after authentication (who), before authorization (its refusals are recorded too)
            app.UseAuthorization();
        }

        private static void MapRoutes(IEndpointRouteBuilder app)
        {
            app.MapNodeHealthChecks();
            app.MapSchedulerMetrics();
            app.MapDashboard();
            app.MapGroup("/api").Audited().MapBulkActionsApi().MapWorkItemsApi().MapDataTypesApi().MapBatchesApi().MapStatusApi().MapStatsApi();
            app.MapGroup("/api").Audited().MapWorkItemCancelApi();
            app.MapGroup("/api").Audited().MapAuditApi();
            app.MapApiDocument();
        }
    }
}

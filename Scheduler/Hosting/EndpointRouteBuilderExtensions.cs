using BatchScheduler.Api;
using BatchScheduler.Audit;
using BatchScheduler.Dashboard;
using BatchScheduler.Health;
using BatchScheduler.Observability;

namespace BatchScheduler.Hosting;

/// <summary>Maps every route the node serves.</summary>
internal static class EndpointRouteBuilderExtensions
{
    public static WebApplication MapBatchScheduler(this WebApplication app)
    {
        app.UseProblemStatusPages(); // first: it wraps every answer after it, including the refusals of authentication
        app.UseAuthentication();
        app.UseAudit(); // after authentication (who), before authorization (its refusals are recorded too)
        app.UseAuthorization();
        app.MapNodeHealthChecks();
        app.MapSchedulerMetrics();
        app.MapDashboard();
        app.MapGroup("/api").Audited().MapBulkActionsApi().MapWorkItemsApi().MapDataTypesApi().MapBatchesApi().MapStatusApi().MapStatsApi();
        app.MapGroup("/api").Audited().MapWorkItemCancelApi();
        app.MapGroup("/api").Audited().MapAuditApi();
        app.MapApiDocument();
        return app;
    }
}

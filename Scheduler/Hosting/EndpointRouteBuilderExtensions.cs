using BatchScheduler.Api;
using BatchScheduler.Dashboard;
using BatchScheduler.Health;
using BatchScheduler.Observability;

namespace BatchScheduler.Hosting;

/// <summary>Maps every route the node serves.</summary>
internal static class EndpointRouteBuilderExtensions
{
    public static WebApplication MapBatchScheduler(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapNodeHealthChecks();
        app.MapSchedulerMetrics();
        app.MapDashboard();
        app.MapGroup("/api").MapBulkActionsApi().MapWorkItemsApi().MapDataTypesApi().MapBatchesApi().MapStatusApi().MapStatsApi();
        app.MapGroup("/api").MapWorkItemCancelApi();
        app.MapApiDocument();
        return app;
    }
}

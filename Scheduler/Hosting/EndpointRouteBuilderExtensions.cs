using BatchScheduler.Api;
using BatchScheduler.Health;

namespace BatchScheduler.Hosting;

/// <summary>Maps every route the node serves.</summary>
internal static class EndpointRouteBuilderExtensions
{
    public static WebApplication MapBatchScheduler(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapNodeHealthChecks();
        app.MapGet("/", () => TypedResults.Content(LandingPage.Html, "text/html; charset=utf-8")).RequireAuthorization(ApiPolicies.Viewer).ExcludeFromDescription();
        app.MapGroup("/api").MapWorkItemsApi().MapBatchesApi().MapStatusApi();
        return app;
    }
}

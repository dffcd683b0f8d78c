using Microsoft.OpenApi;

namespace BatchScheduler.Api;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>, generated from the routes' own metadata (typed
/// results, <c>Accepts</c>, <c>ProducesProblem</c>, authorization policies), so it cannot list a
/// route the node does not serve. Reading it needs the viewer role, like the API it describes.
/// </summary>
internal static class ApiDocument
{
    public const string Name = "v1";
    public const string Route = "/openapi/{documentName}.json";

    /// <summary>Where the document is served.</summary>
    public const string Path = "/openapi/" + Name + ".json";

    public static IServiceCollection AddApiDocument(this IServiceCollection services) =>
        services.AddOpenApi(Name, options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "BatchScheduler",
                    Version = Name,
                    Description = "Work items, batches, failures and cluster status of a BatchScheduler cluster. "
                        + "Bodies are JSON in camelCase; errors are RFC 9457 problem details whose detail says what was wrong. "
                        + "With Admin:ApiKeys configured every /api route needs a key (Authorization: Bearer <key> or X-Api-Key: <key>): "
                        + "role viewer reads, role admin also changes things. Without keys only loopback callers are answered, under a loopback Host "
                        + "(or one in Admin:AllowedHosts), and a change must not come from a page on another origin: a POST without a JSON, CSV or "
                        + "NDJSON body sends the header X-Requested-With (any value).",
                };
                return Task.CompletedTask;
            });
            options.AddDocumentTransformer<PipelineEndpointsTransformer>();
            options.AddDocumentTransformer<ApiKeySecurity>();
            options.AddOperationTransformer<ApiKeySecurity>();
        });

    public static IEndpointRouteBuilder MapApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(Route).RequireAuthorization(ApiPolicies.Viewer);
        return app;
    }
}

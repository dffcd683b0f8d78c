using BatchScheduler.Credits;
using BatchScheduler.Failures;
using BatchScheduler.Health;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BatchScheduler.Api;

/// <summary>The read-mostly routes ops look at: health, failures, nodes, vendors.</summary>
internal static class StatusApi
{
    public static RouteGroupBuilder MapStatusApi(this RouteGroupBuilder api)
    {
        api.MapGet("/health", async (HealthQuery health, CancellationToken ct) => TypedResults.Ok(await health.GetAsync(ct)))
            .WithTags("Health").RequireAuthorization(ApiPolicies.Viewer);
        api.MapGet("/nodes", async (NodeStatusQuery nodes, CancellationToken ct) => TypedResults.Ok(await nodes.ListAsync(ct)))
            .WithTags("Nodes").RequireAuthorization(ApiPolicies.Viewer);
        api.MapGet("/vendors", async (VendorsQuery vendors, CancellationToken ct) => TypedResults.Ok(await vendors.ListAsync(ct)))
            .WithTags("Vendors").RequireAuthorization(ApiPolicies.Viewer);
        var failures = api.MapGroup("/failures").WithTags("Failures");
        failures.MapGet("/", ListFailuresAsync).RequireAuthorization(ApiPolicies.Viewer);
        failures.MapPost("/{id:long}/done", MarkDoneAsync).RequireAuthorization(ApiPolicies.Admin);
        return api;
    }

    private static async Task<Results<Ok<FailurePage>, ProblemHttpResult>> ListFailuresAsync(
        FailureStore store, DataTypeCatalog catalog, CancellationToken cancellationToken,
        string? done = null, string? dataType = null, string? entityId = null, string? page = null, string? pageSize = null)
    {
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (!RequestValues.TryBool(done, "done", out var doneFilter, out var doneError))
            return ApiProblems.BadRequest(doneError!);
        if (!WorkItemInput.TryPage(page, pageSize, out var pageNumber, out var size, out var pageError))
            return ApiProblems.BadRequest(pageError!);
        return TypedResults.Ok(await store.ListAsync(doneFilter, dataType, entityId, pageNumber, size, cancellationToken));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> MarkDoneAsync(long id, FailureStore store, CancellationToken cancellationToken) =>
        await store.MarkDoneAsync(id, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound($"No failure with id {id}.");
}

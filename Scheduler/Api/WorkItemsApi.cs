using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BatchScheduler.Api;

/// <summary>The <c>/api/work-items</c> routes.</summary>
internal static class WorkItemsApi
{
    public static RouteGroupBuilder MapWorkItemsApi(this RouteGroupBuilder api)
    {
        var items = api.MapGroup("/work-items").WithTags("Work items");
        items.MapGet("/", ListAsync).RequireAuthorization(ApiPolicies.Viewer);
        items.MapPost("/", RegisterManyAsync).RequireAuthorization(ApiPolicies.Admin);
        items.MapGet("/{dataType}/{entityId}", GetAsync).RequireAuthorization(ApiPolicies.Viewer);
        items.MapPut("/{dataType}/{entityId}", PutAsync).RequireAuthorization(ApiPolicies.Admin);
        items.MapPost("/{dataType}/{entityId}/run", RunAsync).RequireAuthorization(ApiPolicies.Admin);
        items.MapDelete("/{dataType}/{entityId}", DeleteAsync).RequireAuthorization(ApiPolicies.Admin);
        return api;
    }

    private static async Task<Results<Ok<WorkItemPage>, ProblemHttpResult>> ListAsync(
        WorkItemStore store, DataTypeCatalog catalog, CancellationToken cancellationToken,
        string? dataType = null, string? state = null, string? tier = null, string? page = null, string? pageSize = null)
    {
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (state is not null && !WorkItemStates.All.Contains(state))
            return ApiProblems.BadRequest($"Unknown state '{state}'; states are: {string.Join(", ", WorkItemStates.All)}.");
        if (!WorkItemInput.TryPage(page, pageSize, out var pageNumber, out var size, out var pageError))
            return ApiProblems.BadRequest(pageError!);
        var (found, total) = await store.ListAsync(new WorkItemQuery(dataType, state, tier, pageNumber, size), cancellationToken);
        return TypedResults.Ok(new WorkItemPage(found, pageNumber, size, total));
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> GetAsync(
        string dataType, string entityId, WorkItemStore store, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (!catalog.TryGet(dataType, out _))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        var item = await store.GetAsync(dataType, entityId, cancellationToken);
        return item is null ? ApiProblems.NotFound(NoSuchItem(dataType, entityId)) : TypedResults.Ok(item);
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> PutAsync(
        string dataType, string entityId, HttpRequest request, WorkItemService service, WorkItemStore store,
        DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        if (WorkItemInput.RejectEntityId(entityId, "entityId") is { } idError)
            return ApiProblems.BadRequest(idError);
        var (body, jsonError) = await JsonBody.ReadAsync<PutWorkItemRequest>(request, cancellationToken);
        if (body is null)
            return ApiProblems.BadRequest(jsonError!);
        var (registration, error) = WorkItemInput.ToRegistration(definition, entityId, body.Tier, body.Payload, "body");
        if (registration is null)
            return ApiProblems.BadRequest(error!);
        await service.RegisterAsync(definition, [registration], cancellationToken);
        return TypedResults.Ok((await store.GetAsync(dataType, entityId, cancellationToken))!);
    }

    private static async Task<Results<Ok<BulkWorkItemsResponse>, ProblemHttpResult>> RegisterManyAsync(
        HttpRequest request, WorkItemService service, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        var (body, jsonError) = await JsonBody.ReadAsync<BulkWorkItemsRequest>(request, cancellationToken);
        if (body is null)
            return ApiProblems.BadRequest(jsonError!);
        if (string.IsNullOrWhiteSpace(body.DataType))
            return ApiProblems.BadRequest("dataType is missing; name the data type all items belong to.");
        if (!catalog.TryGet(body.DataType, out var definition))
            return ApiProblems.BadRequest(catalog.Unknown(body.DataType));
        if (body.Items is null || body.Items.Count == 0)
            return ApiProblems.BadRequest("items is missing or empty; send at least one item.");
        if (body.Items.Count > WorkItemInput.MaxItemsPerRequest)
            return ApiProblems.BadRequest($"items has {body.Items.Count} entries; send at most {WorkItemInput.MaxItemsPerRequest} per request.");

        var registrations = new List<WorkItemRegistration>(body.Items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < body.Items.Count; i++)
        {
            var field = $"items[{i}]";
            var item = body.Items[i];
            if (item is null)
                return ApiProblems.BadRequest($"{field} is null; each item is an object with an entityId.");
            if (WorkItemInput.RejectEntityId(item.EntityId, $"{field}.entityId") is { } idError)
                return ApiProblems.BadRequest(idError);
            if (!seen.Add(item.EntityId!))
                return ApiProblems.BadRequest($"{field}.entityId '{item.EntityId}' appears more than once in this request.");
            var (registration, error) = WorkItemInput.ToRegistration(definition, item.EntityId!, item.Tier, item.Payload, field);
            if (registration is null)
                return ApiProblems.BadRequest(error!);
            registrations.Add(registration);
        }
        var accepted = await service.RegisterAsync(definition, registrations, cancellationToken);
        return TypedResults.Ok(new BulkWorkItemsResponse(accepted));
    }

    private static async Task<Results<Accepted<WorkItem>, ProblemHttpResult>> RunAsync(
        string dataType, string entityId, WorkItemService service, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        var item = await service.RunNowAsync(definition, entityId, cancellationToken);
        return item is null
            ? ApiProblems.NotFound(NoSuchItem(dataType, entityId))
            : TypedResults.Accepted($"/api/work-items/{Uri.EscapeDataString(dataType)}/{Uri.EscapeDataString(entityId)}", item);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string dataType, string entityId, WorkItemService service, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        return await service.RemoveAsync(definition, entityId, cancellationToken)
            ? TypedResults.NoContent()
            : ApiProblems.NotFound(NoSuchItem(dataType, entityId));
    }

    private static string NoSuchItem(string dataType, string entityId) =>
        $"No work item '{entityId}' of data type '{dataType}'.";
}

using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Api;

/// <summary>The <c>/api/work-items</c> routes.</summary>
internal static class WorkItemsApi
{
    public static RouteGroupBuilder MapWorkItemsApi(this RouteGroupBuilder api)
    {
        var items = api.MapGroup("/work-items").WithTags("Work items");
        items.MapGet("/", ListAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("listWorkItems")
            .WithSummary("List work items")
            .WithDescription("Filtered by dataType, state, tier and q (entity id prefix); ordered by data type, then entity id. "
                + "By page number (page, pageSize 1-1000, default 100) with a total, or by cursor: limit (1-1000) and after (the previous answer's next), "
                + "which stays as fast at page 10,000 as at page 1 and gives no total.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        items.MapPost("/", RegisterManyAsync).RequireAuthorization(ApiPolicies.Admin).WithName("registerWorkItems")
            .WithSummary("Register or update many items of one data type")
            .WithDescription("Up to 10,000 items (RequestLimits:MaxBulkItems) in a body of up to 8 MiB (RequestLimits:MaxBulkBodyBytes); "
                + "re-registering an existing item updates its tier and payload, never duplicates it. accepted counts new and updated items. "
                + "An item's runAt (ISO 8601 with an offset, e.g. 2026-11-23T08:00:00Z) is when its next run is due; absent or past: now.")
            .DescribesJsonBody<BulkWorkItemsRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        items.MapGet("/{dataType}/{entityId}", GetAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getWorkItem")
            .WithSummary("Get one work item")
            .WithDescription("A slash in an entity id is written %2F.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        items.MapPut("/{dataType}/{entityId}", PutAsync).RequireAuthorization(ApiPolicies.Admin).WithName("putWorkItem")
            .WithSummary("Register or update one work item")
            .WithDescription("Without a tier the data type's default tier applies; payload is any JSON up to 65,536 characters. "
                + "runAt (ISO 8601 with an offset, e.g. 2026-11-23T08:00:00Z, at most 3,660 days ahead): the next run does not start before it and nextRunAt shows it; absent or past: due now. "
                + "The entity id, tier and payload text follow the text rule (docs/security.md, Text); a 400 names the field that breaks it.")
            .DescribesJsonBody<PutWorkItemRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        items.MapPost("/{dataType}/{entityId}/run", RunAsync).RequireAuthorization(ApiPolicies.Admin).WithName("runWorkItemNow")
            .WithSummary("Run a work item now")
            .WithDescription("Schedules an immediate run (also a manual retry of a dead-lettered or expired item); nextRunAt is now. An item in flight runs again once its running attempt has ended. 409 for an item in tier exclude or paused.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        items.MapDelete("/{dataType}/{entityId}", DeleteAsync).RequireAuthorization(ApiPolicies.Admin).WithName("deleteWorkItem")
            .WithSummary("Remove a work item")
            .WithDescription("Removes the item's row and trigger; its failure rows stay.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<Ok<WorkItemPage>, ProblemHttpResult>> ListAsync(
        WorkItemStore store, DataTypeCatalog catalog, Health.HealthQuery health, CancellationToken cancellationToken,
        [QueryText("Only items of this configured data type.")] string? dataType = null,
        [QueryOneOf(typeof(WorkItemStates), "Only items in this state.")] string? state = null,
        [QueryText("Only items in this tier.")] string? tier = null,
        [QueryInteger(1, WorkItemInput.MaxPage, 1, "Page number (paging by page; not with after, limit or q).")] string? page = null,
        [QueryInteger(1, WorkItemInput.MaxPageSize, WorkItemInput.DefaultPageSize, "Items per page (paging by page).")] string? pageSize = null,
        [QueryText("Only items whose entity id starts with this text (paging by cursor).")] string? q = null,
        [QueryText("The cursor: the previous answer's next, as it is (paging by cursor).")] string? after = null,
        [QueryInteger(1, WorkItemInput.MaxPageSize, WorkItemInput.DefaultPageSize, "Items per answer (paging by cursor).")] string? limit = null)
    {
        if ((TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength)
            ?? TextRules.RejectText(tier, "tier", TextRules.MaxTierLength)
            ?? TextRules.RejectText(q, "q", TextRules.MaxQueryLength)) is { } textError)
        {
            return ApiProblems.BadRequest(textError);
        }
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (state is not null && !WorkItemStates.All.Contains(state))
            return ApiProblems.BadRequest($"Unknown state '{state}'; states are: {string.Join(", ", WorkItemStates.All)}.");
        if (q is not null || after is not null || limit is not null)
        {
            if (page is not null)
                return ApiProblems.BadRequest("page does not go with after, limit or q; page through those with after (the previous answer's next).");
            if (!RequestValues.TryInt(limit, "limit", WorkItemInput.DefaultPageSize, 1, WorkItemInput.MaxPageSize, out var count, out var limitError))
                return ApiProblems.BadRequest(limitError!);
            string? afterType = null, afterId = null;
            if (after is not null)
            {
                if (!WorkItemCursor.TryRead(after, out var t, out var e, out var cursorError))
                    return ApiProblems.BadRequest(cursorError!);
                (afterType, afterId) = (t, e);
            }
            var items = await store.ListAfterAsync(new WorkItemQuery(dataType, state, tier, 1, count),
                string.IsNullOrEmpty(q) ? null : q, afterType, afterId, count + 1, cancellationToken);
            var shown = items.Take(count).ToList();
            return TypedResults.Ok(new WorkItemPage(shown, null, count, null, items.Count > count ? WorkItemCursor.Of(shown[^1]) : null));
        }
        if (!WorkItemInput.TryPage(page, pageSize, out var pageNumber, out var size, out var pageError))
            return ApiProblems.BadRequest(pageError!);
        // The total comes from the health summary's counts: exact on a store where counting is quick, at most seconds old on a large one.
        var (found, total) = await store.ListAsync(new WorkItemQuery(dataType, state, tier, pageNumber, size), cancellationToken,
            ct => health.CountMatchingAsync(dataType, state, tier, ct));
        return TypedResults.Ok(new WorkItemPage(found, pageNumber, size, total));
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> GetAsync(
        string dataType, string entityId, WorkItemStore store, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (RejectAddress(dataType, entityId) is { } addressError)
            return ApiProblems.BadRequest(addressError);
        if (!catalog.TryGet(dataType, out _))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        var item = await store.GetAsync(dataType, entityId, cancellationToken);
        return item is null ? ApiProblems.NotFound(NoSuchItem(dataType, entityId)) : TypedResults.Ok(item);
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> PutAsync(
        string dataType, string entityId, HttpRequest request, WorkItemService service, WorkItemStore store,
        DataTypeCatalog catalog, IOptions<RequestLimitsOptions> limits, TimeProvider time, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength) is { } typeError)
            return ApiProblems.BadRequest(typeError);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        if (TextRules.RejectEntityId(entityId, "entityId") is { } idError)
            return ApiProblems.BadRequest(idError);
        var (body, problem) = await JsonBody.ReadAsync<PutWorkItemRequest>(request, ItemBody(limits.Value), cancellationToken);
        if (body is null)
            return problem!;
        var (registration, error) = WorkItemInput.ToRegistration(definition, entityId, body.Tier, body.Payload, body.RunAt, "body", time.GetUtcNow());
        if (registration is null)
            return ApiProblems.BadRequest(error!);
        await service.RegisterAsync(definition, [registration], cancellationToken);
        return TypedResults.Ok((await store.GetAsync(dataType, entityId, cancellationToken))!);
    }

    private static async Task<Results<Ok<BulkWorkItemsResponse>, ProblemHttpResult>> RegisterManyAsync(
        HttpRequest request, WorkItemService service, DataTypeCatalog catalog, IOptions<RequestLimitsOptions> limits,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var (body, problem) = await JsonBody.ReadAsync<BulkWorkItemsRequest>(request, BulkBody(limits.Value), cancellationToken);
        if (body is null)
            return problem!;
        if (string.IsNullOrWhiteSpace(body.DataType))
            return ApiProblems.BadRequest("dataType is missing; name the data type all items belong to.");
        if (TextRules.RejectText(body.DataType, "dataType", TextRules.MaxDataTypeLength) is { } typeError)
            return ApiProblems.BadRequest(typeError);
        if (!catalog.TryGet(body.DataType, out var definition))
            return ApiProblems.BadRequest(catalog.Unknown(body.DataType));
        if (body.Items is null || body.Items.Count == 0)
            return ApiProblems.BadRequest("items is missing or empty; send at least one item.");

        var registrations = new List<WorkItemRegistration>(body.Items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < body.Items.Count; i++)
        {
            var field = $"items[{i}]";
            var item = body.Items[i];
            if (item is null)
                return ApiProblems.BadRequest($"{field} is null; each item is an object with an entityId.");
            if (TextRules.RejectEntityId(item.EntityId, $"{field}.entityId") is { } idError)
                return ApiProblems.BadRequest(idError);
            if (!seen.Add(item.EntityId!))
                return ApiProblems.BadRequest($"{field}.entityId '{item.EntityId}' appears more than once in this request.");
            var (registration, error) = WorkItemInput.ToRegistration(definition, item.EntityId!, item.Tier, item.Payload, item.RunAt, field, time.GetUtcNow());
            if (registration is null)
                return ApiProblems.BadRequest(error!);
            registrations.Add(registration);
        }
        var accepted = await service.RegisterAsync(definition, registrations, cancellationToken);
        Audit.AuditNotes.Record(request.HttpContext, accepted, definition.Name);
        return TypedResults.Ok(new BulkWorkItemsResponse(accepted));
    }

    private static async Task<Results<Accepted<WorkItem>, ProblemHttpResult>> RunAsync(
        string dataType, string entityId, WorkItemService service, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (RejectAddress(dataType, entityId) is { } addressError)
            return ApiProblems.BadRequest(addressError);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        var (result, item) = await service.RunNowAsync(definition, entityId, cancellationToken);
        return result switch
        {
            RunNowResult.Accepted when item is not null =>
                TypedResults.Accepted($"/api/work-items/{Uri.EscapeDataString(dataType)}/{Uri.EscapeDataString(entityId)}", item),
            RunNowResult.Paused => ApiProblems.Conflict(
                $"Work item '{entityId}' of data type '{dataType}' is paused; resume it first (POST .../resume)."),
            RunNowResult.Excluded => ApiProblems.Conflict(
                $"Work item '{entityId}' of data type '{dataType}' is in tier '{Tiers.Exclude}', which never runs; give it another tier first (PUT with \"tier\")."),
            _ => ApiProblems.NotFound(NoSuchItem(dataType, entityId)),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string dataType, string entityId, WorkItemService service, DataTypeCatalog catalog, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if (RejectAddress(dataType, entityId) is { } addressError)
            return ApiProblems.BadRequest(addressError);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        return await service.RemoveAsync(definition, entityId, cancellationToken)
            ? TypedResults.NoContent()
            : ApiProblems.NotFound(NoSuchItem(dataType, entityId));
    }

    /// <summary>
    /// A route's data type and entity id checked as lookups: text within the limits (an item
    /// registered before the id rule stays reachable, whatever else its id holds).
    /// </summary>
    private static string? RejectAddress(string dataType, string entityId) =>
        TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength)
        ?? TextRules.RejectText(entityId, "entityId", TextRules.MaxEntityIdLength);

    private static JsonBodyLimits ItemBody(RequestLimitsOptions o) => new(
        o.MaxBodyBytes, $"{RequestLimitsOptions.Section}:{nameof(o.MaxBodyBytes)}",
        o.MaxJsonValues, $"{RequestLimitsOptions.Section}:{nameof(o.MaxJsonValues)}");

    private static JsonBodyLimits BulkBody(RequestLimitsOptions o) => new(
        o.MaxBulkBodyBytes, $"{RequestLimitsOptions.Section}:{nameof(o.MaxBulkBodyBytes)}",
        o.MaxJsonValues, $"{RequestLimitsOptions.Section}:{nameof(o.MaxJsonValues)}",
        o.MaxBulkItems, $"{RequestLimitsOptions.Section}:{nameof(o.MaxBulkItems)}");

    private static string NoSuchItem(string dataType, string entityId) =>
        $"No work item '{entityId}' of data type '{dataType}'.";
}

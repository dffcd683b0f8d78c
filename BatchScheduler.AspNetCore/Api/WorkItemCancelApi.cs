using System.Security.Claims;
using BatchScheduler.Audit;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Api;

/// <summary><c>POST /api/work-items/{dataType}/{entityId}/cancel</c>: stops the item's running attempt, on whichever node runs it.</summary>
internal static class WorkItemCancelApi
{
    public static RouteGroupBuilder MapWorkItemCancelApi(this RouteGroupBuilder api)
    {
        api.MapGroup("/work-items").WithTags("Work items")
            .MapPost("/{dataType}/{entityId}/cancel", CancelAsync).RequireAuthorization(ApiPolicies.Admin).WithName("cancelWorkItem")
            .WithSummary("Cancel a work item's running attempt")
            .WithDescription("The running attempt's cancellation token is cancelled on whichever node runs it (within about a second). "
                + "The attempt is not counted; the item becomes paused (\"Cancelled by <who>: <reason>\") and runs again only when resumed. "
                + $"Optional body: {{\"reason\": \"...\"}} (at most {PauseRequest.MaxReasonLength} characters). 409 when no attempt of the item is running.")
            .DescribesJsonBody<PauseRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return api;
    }

    private static async Task<Results<Accepted<WorkItem>, ProblemHttpResult>> CancelAsync(
        string dataType, string entityId, HttpContext http, ClaimsPrincipal user, DataTypeCatalog catalog, ItemLifecycle lifecycle,
        WorkItemStore store, IOptions<RequestLimitsOptions> limits, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        if ((TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength) ?? TextRules.RejectText(entityId, "entityId", TextRules.MaxEntityIdLength)) is { } addressError)
            return ApiProblems.BadRequest(addressError);
        if (!catalog.TryGet(dataType, out _))
            return ApiProblems.NotFound(catalog.Unknown(dataType));
        var (reason, bodyProblem) = await DataTypesApi.ReadReasonAsync(http.Request, limits.Value, cancellationToken, required: false);
        if (bodyProblem is not null)
            return bodyProblem;
        switch (await lifecycle.CancelAsync(dataType, entityId, DataTypesApi.Who(user), reason, cancellationToken))
        {
            case CancelResult.NotFound:
                return ApiProblems.NotFound($"No work item '{entityId}' of data type '{dataType}'.");
            case CancelResult.NotRunning:
                return ApiProblems.Conflict($"No attempt of work item '{entityId}' of data type '{dataType}' is running; nothing to cancel (pause it to keep it from starting: POST .../pause).");
        }
        AuditNotes.Record(http, count: 1, target: $"{dataType}/{entityId}", detail: reason);
        var location = $"/api/work-items/{Uri.EscapeDataString(dataType)}/{Uri.EscapeDataString(entityId)}";
        return await store.GetAsync(dataType, entityId, cancellationToken) is { } item
            ? TypedResults.Accepted(location, item)
            : ApiProblems.NotFound($"No work item '{entityId}' of data type '{dataType}'.");
    }
}

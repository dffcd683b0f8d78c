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
            .WithTags("Health").RequireAuthorization(ApiPolicies.Viewer).WithName("getHealth")
            .WithSummary("Health summary: running now, failures in 24 h, counts by data type, state and tier, live nodes");
        api.MapGet("/access", (HttpContext context) => TypedResults.Ok(new CallerAccess(
                context.User.IsInRole(Configuration.AdminRoles.Admin) ? Configuration.AdminRoles.Admin : Configuration.AdminRoles.Viewer)))
            .WithTags("Access").RequireAuthorization(ApiPolicies.Viewer).WithName("getAccess")
            .WithSummary("The caller's role (viewer or admin), so a client can offer only what the key may do");
        api.MapGet("/nodes", async (NodeStatusQuery nodes, CancellationToken ct) => TypedResults.Ok(await nodes.ListAsync(ct)))
            .WithTags("Nodes").RequireAuthorization(ApiPolicies.Viewer).WithName("listNodes")
            .WithSummary("Nodes, their last check-in and whether they are alive");
        api.MapGet("/vendors", async (VendorsQuery vendors, CancellationToken ct) => TypedResults.Ok(await vendors.ListAsync(ct)))
            .WithTags("Vendors").RequireAuthorization(ApiPolicies.Viewer).WithName("listVendors")
            .WithSummary("Credit use per vendor: the current window and recent ones");
        var failures = api.MapGroup("/failures").WithTags("Failures");
        failures.MapGet("/", ListFailuresAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("listFailures")
            .WithSummary("List failed attempts, newest first")
            .WithDescription("Filtered by done (true/false), dataType and entityId; pageSize 1-1000 (default 100).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        failures.MapPost("/done", MarkAllDoneAsync).RequireAuthorization(ApiPolicies.Admin).WithName("markFailuresDone")
            .WithSummary("Mark every not-done failure matching the filter done")
            .WithDescription("All filters are optional; without any, every not-done failure is marked. before is an ISO 8601 instant "
                + "(2026-11-23T18:00:00Z; without an offset it is UTC): only failures that happened before it are marked. One statement; marked counts the rows it changed.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        failures.MapPost("/{id:long}/done", MarkDoneAsync).RequireAuthorization(ApiPolicies.Admin).WithName("markFailureDone")
            .WithSummary("Mark one failure done")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<Ok<FailurePage>, ProblemHttpResult>> ListFailuresAsync(
        FailureStore store, DataTypeCatalog catalog, CancellationToken cancellationToken,
        [QueryBoolean("Only failures marked done (true) or not (false).")] string? done = null,
        [QueryText("Only failures of this configured data type.")] string? dataType = null,
        [QueryText("Only failures of this entity id.")] string? entityId = null,
        [QueryInteger(1, WorkItemInput.MaxPage, 1, "Page number.")] string? page = null,
        [QueryInteger(1, WorkItemInput.MaxPageSize, WorkItemInput.DefaultPageSize, "Failures per page.")] string? pageSize = null)
    {
        if (RejectFilters(dataType, entityId) is { } textError)
            return ApiProblems.BadRequest(textError);
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (!RequestValues.TryBool(done, "done", out var doneFilter, out var doneError))
            return ApiProblems.BadRequest(doneError!);
        if (!WorkItemInput.TryPage(page, pageSize, out var pageNumber, out var size, out var pageError))
            return ApiProblems.BadRequest(pageError!);
        return TypedResults.Ok(await store.ListAsync(doneFilter, dataType, entityId, pageNumber, size, cancellationToken));
    }

    private static async Task<Results<Ok<MarkedFailures>, ProblemHttpResult>> MarkAllDoneAsync(
        HttpContext http, FailureStore store, DataTypeCatalog catalog, CancellationToken cancellationToken,
        [QueryText("Only failures of this configured data type.")] string? dataType = null,
        [QueryText("Only failures of this entity id.")] string? entityId = null,
        [QueryInstant("Only failures that happened before this ISO 8601 instant (without an offset: UTC).")] string? before = null)
    {
        if (RejectFilters(dataType, entityId) is { } textError)
            return ApiProblems.BadRequest(textError);
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (!RequestValues.TryInstant(before, "before", out var cutoff, out var beforeError))
            return ApiProblems.BadRequest(beforeError!);
        var marked = await store.MarkAllDoneAsync(dataType, entityId, cutoff, cancellationToken);
        string?[] filter = [dataType is null ? null : $"dataType={dataType}", entityId is null ? null : $"entityId={entityId}", before is null ? null : $"before={before}"];
        Audit.AuditNotes.Record(http, marked, filter.Any(f => f is not null) ? string.Join(" ", filter.OfType<string>()) : "every not-done failure");
        return TypedResults.Ok(new MarkedFailures(marked));
    }

    private static string? RejectFilters(string? dataType, string? entityId) =>
        TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength)
        ?? TextRules.RejectText(entityId, "entityId", TextRules.MaxEntityIdLength);

    private static async Task<Results<NoContent, ProblemHttpResult>> MarkDoneAsync(long id, FailureStore store, CancellationToken cancellationToken) =>
        await store.MarkDoneAsync(id, cancellationToken) ? TypedResults.NoContent() : ApiProblems.NotFound($"No failure with id {id}.");
}

/// <summary>Answer to marking failures done by filter: how many rows changed.</summary>
internal sealed record MarkedFailures(int Marked);

/// <summary>Answer of <c>GET /api/access</c>: the role the caller's key (or loopback without keys) has.</summary>
internal sealed record CallerAccess(string Role);

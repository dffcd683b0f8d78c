using System.Security.Claims;
using BatchScheduler.Audit;
using BatchScheduler.BulkActions;
using BatchScheduler.Configuration;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Api;

/// <summary>Body of <c>POST /api/work-items/actions</c>.</summary>
/// <param name="Action">run, delete, tier, pause, resume or cancel.</param>
/// <param name="Filter">Which items: at least one of dataType, state, tier, entityPrefix, errorContains.</param>
/// <param name="Tier">The new tier: required for action tier, refused for the others.</param>
/// <param name="Reason">Why: required for pause and cancel (as their single-item routes require), optional for the others.</param>
internal sealed record BulkActionRequest(string? Action, BulkActionFilter? Filter, string? Tier = null, string? Reason = null);

/// <summary>How many items match a filter now (<c>GET /api/work-items/actions/matching</c>).</summary>
internal sealed record BulkActionMatches(long Matched);

/// <summary>The <c>/api/work-items/actions</c> routes: actions on every item matching a filter.</summary>
internal static class BulkActionsApi
{
    private const string Path = "/api/work-items/actions";

    public static RouteGroupBuilder MapBulkActionsApi(this RouteGroupBuilder api)
    {
        var actions = api.MapGroup("/work-items/actions").WithTags("Work items");
        actions.MapPost("/", PostAsync).RequireAuthorization(ApiPolicies.Admin).WithName("startBulkAction")
            .WithSummary("Act on every work item matching a filter")
            .WithDescription("action: run (run now; the retry of dead-lettered items), delete, tier (with \"tier\"), pause (with \"reason\"), resume or cancel (with \"reason\"). "
                + "filter: at least one of dataType, state, tier, entityPrefix (a prefix of the entity id) and errorContains (text of the item's last error, any case); all given must hold. "
                + "The matching items are counted (matched), then moved in the background in chunks, each item as its single-item route moves it. "
                + "Answers 200 with the final counts when the action ends within BulkActions:RequestWait (10 s), else 202 with the counts so far and a Location to follow. "
                + "applied: items moved; skipped: gone, no longer matching, or already so; notApplied: refused (e.g. run of a paused item). Running an action again is safe.")
            .DescribesJsonBody<BulkActionRequest>()
            .Produces<BulkActionStatus>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        actions.MapGet("/matching", MatchingAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("countBulkActionMatches")
            .WithSummary("Count the work items a filter matches")
            .WithDescription("The filter of a bulk action as query parameters (dataType, state, tier, entityPrefix, errorContains; at least one): how many items an action would act on now.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        actions.MapGet("/{id}", GetAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getBulkAction")
            .WithSummary("Get a bulk action and its progress")
            .WithDescription("state: running, done, failed (error says why) or interrupted (its node stopped first; what it applied stays applied, running it again is safe). "
                + "Counts grow after each chunk; once done, applied + skipped + notApplied = matched.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Results<Ok<BulkActionStatus>, Accepted<BulkActionStatus>, ProblemHttpResult>> PostAsync(
        HttpContext http, ClaimsPrincipal user, BulkActionRunner runner, DataTypeCatalog catalog, IOptions<RequestLimitsOptions> limits,
        IOptions<BulkActionOptions> options, CancellationToken cancellationToken)
    {
        var l = limits.Value;
        var (body, problem) = await JsonBody.ReadAsync<BulkActionRequest>(http.Request, new JsonBodyLimits(
            l.MaxBodyBytes, $"{RequestLimitsOptions.Section}:{nameof(l.MaxBodyBytes)}",
            l.MaxJsonValues, $"{RequestLimitsOptions.Section}:{nameof(l.MaxJsonValues)}"), cancellationToken);
        if (body is null)
            return problem!;
        var (spec, error) = BulkActionInput.Read(body, catalog);
        if (spec is null)
            return ApiProblems.BadRequest(error!);
        var started = await runner.BeginAsync(spec, DataTypesApi.Who(user), cancellationToken);
        var action = await runner.WaitAsync(started.Id, options.Value.RequestWait, cancellationToken) ?? started;
        AuditNotes.Record(http, count: action.Ended ? action.Applied : action.Matched, target: action.Filter.ToJson(),
            detail: $"bulk {action.Action} {action.Id}: {action.State}");
        return action.Ended ? TypedResults.Ok(action) : TypedResults.Accepted($"{Path}/{action.Id}", action);
    }

    private static async Task<Results<Ok<BulkActionMatches>, ProblemHttpResult>> MatchingAsync(
        BulkActionStore store, DataTypeCatalog catalog, CancellationToken cancellationToken,
        [QueryText("Only items of this configured data type.")] string? dataType = null,
        [QueryOneOf(typeof(WorkItemStates), "Only items in this state.")] string? state = null,
        [QueryText("Only items in this tier.")] string? tier = null,
        [QueryText("Only items whose entity id starts with this text (case-sensitive).")] string? entityPrefix = null,
        [QueryText("Only items whose last error contains this text, in any case.")] string? errorContains = null)
    {
        var (filter, error) = BulkActionInput.ReadFilter(new BulkActionFilter(dataType, state, tier, entityPrefix, errorContains), "", catalog);
        return filter is null ? ApiProblems.BadRequest(error!) : TypedResults.Ok(new BulkActionMatches(await store.CountAsync(filter, cancellationToken)));
    }

    private static async Task<Results<Ok<BulkActionStatus>, ProblemHttpResult>> GetAsync(string id, BulkActionRunner runner, CancellationToken cancellationToken)
    {
        if (TextRules.RejectText(id, "id", 32) is null && await runner.GetAsync(id, cancellationToken) is { } action)
            return TypedResults.Ok(action);
        return ApiProblems.NotFound($"No bulk action '{TextRules.Printable(id)}'.");
    }
}

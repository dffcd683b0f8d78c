using System.Globalization;
using BatchScheduler.Audit;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BatchScheduler.Api;

/// <summary>The <c>/api/audit</c> route: who changed what, newest first.</summary>
internal static class AuditApi
{
    public const int MaxLimit = 1000;
    private const int DefaultLimit = 100;

    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder api)
    {
        api.MapGet("/audit", ListAsync).WithTags("Audit").RequireAuthorization(ApiPolicies.Viewer).WithName("listAuditEntries")
            .WithSummary("The audit trail: every changing request, newest first")
            .WithDescription("One row per changing request (PUT, POST, DELETE, ...) to /api from a caller with a key (or loopback without keys), "
                + "answered or refused: at (UTC), who (the key's Admin:ApiKeys:<i>:Name, or loopback), action (method and route pattern), "
                + "target (the route's values, or a bulk request's filter), count (items a bulk request changed), detail, status (the HTTP answer) and node. "
                + $"Filters: who, action (exact), since (ISO 8601 instant). Paged by cursor: limit (1-{MaxLimit}, default 100) and after (the previous answer's next).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return api;
    }

    private static async Task<Results<Ok<AuditPage>, ProblemHttpResult>> ListAsync(
        AuditStore store, CancellationToken cancellationToken,
        [QueryText("Only changes by this caller: a key's Admin:ApiKeys:<i>:Name, or loopback.")] string? who = null,
        [QueryText("Only this action, exactly: the method and route pattern, e.g. 'POST /api/batches/{id}/cancel'.")] string? action = null,
        [QueryInstant("Only changes at or after this ISO 8601 instant (without an offset: UTC).")] string? since = null,
        [QueryText("The cursor: the previous answer's next, as it is.")] string? after = null,
        [QueryInteger(1, MaxLimit, DefaultLimit, "Entries per answer.")] string? limit = null)
    {
        if ((TextRules.RejectText(who, "who", AuditStore.MaxWho) ?? TextRules.RejectText(action, "action", AuditStore.MaxAction)) is { } textError)
            return ApiProblems.BadRequest(textError);
        if (!RequestValues.TryInt(limit, "limit", DefaultLimit, 1, MaxLimit, out var count, out var limitError))
            return ApiProblems.BadRequest(limitError!);
        if (!RequestValues.TryInstant(since, "since", out var from, out var sinceError))
            return ApiProblems.BadRequest(sinceError!);
        long? before = null;
        if (after is not null)
        {
            if (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1)
                return ApiProblems.BadRequest($"after '{TextRules.Printable(after)}' is not a cursor this API gave out; pass the previous answer's next as it is.");
            before = id;
        }
        var rows = await store.ListAsync(new AuditQuery(who, action, from, before, count + 1), cancellationToken);
        var shown = rows.Take(count).ToList();
        var next = rows.Count > count ? shown[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new AuditPage(shown, count, next));
    }
}

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
            .WithMetadata(NextPageLink.Instance)
            .WithSummary("The audit trail: every changing request, newest first")
            .WithDescription("One row per changing request (PUT, POST, DELETE, ...) to /api from a caller with a key (or loopback without keys), "
                + "answered or refused: at (UTC), who (the key's Admin:ApiKeys:<i>:Name, or loopback), action (method and route pattern), "
                + "target (the route's values, or a bulk request's filter), count (items a bulk request changed), detail, status (the HTTP answer) and node. "
                + $"Filters: who, action (exact), since (ISO 8601 instant). The answer is an array; paged by cursor: limit (1-{MaxLimit}, default 100), "
                + "and when more rows follow, a Link header (RFC 8288) names the next page, rel=\"next\", with the same filters and after=<cursor>.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return api;
    }

    private static async Task<Results<Ok<List<AuditEntry>>, ProblemHttpResult>> ListAsync(
        AuditStore store, HttpContext context, CancellationToken cancellationToken,
        [QueryText("Only changes by this caller: a key's Admin:ApiKeys:<i>:Name, or loopback.")] string? who = null,
        [QueryText("Only this action, exactly: the method and route pattern, e.g. 'POST /api/batches/{id}/cancel'.")] string? action = null,
        [QueryInstant("Only changes at or after this ISO 8601 instant (without an offset: UTC).")] string? since = null,
        [QueryText("The cursor: the after value of the previous answer's Link rel=\"next\", as it is.")] string? after = null,
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
                return ApiProblems.BadRequest($"after '{TextRules.Printable(after)}' is not a cursor this API gave out; follow the previous answer's Link rel=\"next\" as it is.");
            before = id;
        }
        var rows = await store.ListAsync(new AuditQuery(who, action, from, before, count + 1), cancellationToken);
        var shown = rows.Take(count).ToList();
        if (rows.Count > count)
            context.Response.Headers.Link = NextLink(context.Request, shown[^1].Id.ToString(CultureInfo.InvariantCulture));
        return TypedResults.Ok(shown);
    }

    /// <summary>The next page's link: this request's path and query with <c>after</c> replaced by the cursor.</summary>
    private static string NextLink(HttpRequest request, string cursor)
    {
        var query = QueryString.Create(request.Query
            .Where(q => !string.Equals(q.Key, "after", StringComparison.OrdinalIgnoreCase))
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
            .Append(new("after", cursor)));
        return $"<{request.PathBase}{request.Path}{query}>; rel=\"next\"";
    }
}

using BatchScheduler.Stats;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BatchScheduler.Api;

/// <summary>The <c>/api/stats</c> routes: the per-minute aggregate the dashboard's charts draw.</summary>
internal static class StatsApi
{
    private const int MaxHours = 168;
    private const int DefaultHours = 24;

    public static RouteGroupBuilder MapStatsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/stats/minutely", MinutelyAsync).WithTags("Status").RequireAuthorization(ApiPolicies.Viewer).WithName("getMinutelyStats")
            .WithSummary("Executions, failures, due-to-start delay and backlog per minute and data type")
            .WithDescription("From the per-minute aggregate the nodes write every 5 s (stats_minutely), summed over nodes; "
                + "hours 1-168 (default 24), optionally one dataType. Minutes without activity are absent; backlog is null where no sample was taken.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return api;
    }

    private static async Task<Results<Ok<IReadOnlyList<MinuteRow>>, ProblemHttpResult>> MinutelyAsync(
        StatsQuery stats, DataTypeCatalog catalog, TimeProvider time, CancellationToken cancellationToken,
        [QueryText("Only this configured data type.")] string? dataType = null,
        [QueryInteger(1, MaxHours, DefaultHours, "How many hours back from now.")] string? hours = null)
    {
        if (dataType is not null && !catalog.TryGet(dataType, out _))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        if (!RequestValues.TryInt(hours, "hours", DefaultHours, 1, MaxHours, out var span, out var error))
            return ApiProblems.BadRequest(error!);
        var now = time.GetUtcNow();
        return TypedResults.Ok(await stats.MinutelyAsync(dataType, now.AddHours(-span), now.AddMinutes(1), cancellationToken));
    }
}

using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;

namespace BatchScheduler.Api;

/// <summary>
/// Gives an error answered without a body a problem-details body (RFC 9457): a path no route
/// serves (404), a route asked with a method it does not take (405, with the ones it does). Answers
/// that have a body already (every handler's own problems, the dashboard's assets) pass unchanged.
/// </summary>
internal static class UnmatchedRoutes
{
    public static IApplicationBuilder UseProblemStatusPages(this IApplicationBuilder app) =>
        app.UseStatusCodePages(WriteAsync);

    private static Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var status = http.Response.StatusCode;
        var target = $"{http.Request.Method} {TextRules.Printable(http.Request.Path.Value ?? "/")}";
        var detail = status switch
        {
            StatusCodes.Status404NotFound when http.GetEndpoint() is null =>
                $"No route serves {target}. The API is under /api; its routes are listed in the OpenAPI document ({ApiDocument.Path}).",
            StatusCodes.Status404NotFound => $"Nothing was found for {target}.",
            StatusCodes.Status405MethodNotAllowed =>
                $"{TextRules.Printable(http.Request.Path.Value ?? "/")} does not take {http.Request.Method}; it takes {http.Response.Headers.Allow}.",
            _ => $"{target} was answered {status} {ReasonPhrases.GetReasonPhrase(status)}.",
        };
        var title = ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";
        return TypedResults.Problem(detail, statusCode: status, title: title).ExecuteAsync(http);
    }
}

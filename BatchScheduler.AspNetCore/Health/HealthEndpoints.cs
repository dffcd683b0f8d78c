using System.Text.Json;
using BatchScheduler.Api;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BatchScheduler.Health;

/// <summary><c>/healthz</c> (liveness: the process answers) and <c>/healthz/ready</c> (readiness: the store answers).</summary>
internal static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddNodeHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DatabaseReadinessCheck>("database", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapNodeHealthChecks(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .Describe("Liveness", "Liveness: the process answers", "Always 200 while the process runs; checks nothing else, so a load balancer does not restart a node for a database outage.");
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .Describe("Readiness", "Readiness: the store answers", "200 while the database answers a query within 2 s; 503 with the description 'database unreachable' while it does not (the reason goes to the node's log, not to this anonymous answer).");
        return app;
    }

    /// <summary>Anonymous (a probe carries no key), for GET and HEAD.</summary>
    private static void Describe(this IEndpointConventionBuilder endpoint, string operation, string summary, string description) =>
        endpoint.AllowAnonymous().Describe([HttpMethods.Get, HttpMethods.Head], operation, "Liveness and readiness", summary, description,
            new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(HealthReportBody), ["application/json"]),
            new ProducesResponseTypeMetadata(StatusCodes.Status503ServiceUnavailable, typeof(HealthReportBody), ["application/json"]));

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new HealthReportBody(
            report.Status.ToString(),
            [.. report.Entries.Select(e => new HealthCheckBody(e.Key, e.Value.Status.ToString(), PublicDescription(e.Value)))]);
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web));
    }

    /// <summary>
    /// A check that threw gets the exception's message as its description (the health check
    /// service's doing); the answer is anonymous, so that stays in the log, which has it already.
    /// </summary>
    private static string? PublicDescription(HealthReportEntry entry) =>
        entry.Exception is null ? entry.Description : "the check failed; the node's log has the reason";
}

/// <summary>What <c>/healthz</c> and <c>/healthz/ready</c> answer: <c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>, and each check's.</summary>
internal sealed record HealthReportBody(string Status, IReadOnlyList<HealthCheckBody> Checks);

/// <summary>One health check's result.</summary>
internal sealed record HealthCheckBody(string Name, string Status, string? Description);

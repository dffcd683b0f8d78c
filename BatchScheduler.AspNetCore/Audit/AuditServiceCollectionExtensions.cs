namespace BatchScheduler.Audit;

/// <summary>Wiring of the audit trail: the store and recorder, the middleware, and the mark on audited routes.</summary>
internal static class AuditServiceCollectionExtensions
{
    public static IServiceCollection AddAudit(this IServiceCollection services) =>
        services.AddSingleton<AuditStore>().AddSingleton<AuditRecorder>();

    /// <summary>Records changing requests to audited endpoints; goes after authentication (it needs the caller) and before authorization (it records refusals).</summary>
    public static IApplicationBuilder UseAudit(this IApplicationBuilder app) =>
        // Resolved per request (a singleton): settings are validated when the node starts, not while the pipeline is built.
        app.Use((http, next) => http.RequestServices.GetRequiredService<AuditRecorder>().InvokeAsync(http, next));

    /// <summary>Every changing request to an endpoint of <paramref name="group"/> (and of groups inside it) is audited.</summary>
    public static RouteGroupBuilder Audited(this RouteGroupBuilder group) => group.WithMetadata(AuditedMetadata.Instance);
}

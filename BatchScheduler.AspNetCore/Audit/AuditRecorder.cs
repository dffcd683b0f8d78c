using System.Data.Common;
using System.Diagnostics.Metrics;
using BatchScheduler.Admin;
using BatchScheduler.Configuration;
using BatchScheduler.Observability;
using Microsoft.AspNetCore.Routing.Patterns;

namespace BatchScheduler.Audit;

/// <summary>Marks the endpoints whose changing requests are audited: every route of the <c>/api</c> group.</summary>
internal sealed class AuditedMetadata
{
    public static readonly AuditedMetadata Instance = new();
}

/// <summary>
/// The one place that writes the audit trail. It runs between authentication and authorization, so
/// it sees every changing request (not GET, HEAD, OPTIONS or TRACE) to an audited endpoint whose
/// caller authenticated, including the ones authorization then refuses (a viewer's 403), and writes
/// one row per request just before its answer starts: a client that has its answer will find the
/// row. Callers that did not authenticate (no key, an unknown key, a refused loopback request) are
/// not recorded, so no one without a key can add rows. Writing is best-effort: a failed write is
/// logged (event 2200) and counted (<c>batchscheduler_audit_write_failures_total</c>), and the request
/// is answered as if nothing had happened.
/// </summary>
internal sealed partial class AuditRecorder
{
    private readonly AuditStore _store;
    private readonly NodeIdentity _node;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditRecorder> _logger;
    private readonly Counter<long> _failures;

    public AuditRecorder(AuditStore store, NodeIdentity node, TimeProvider time, ILogger<AuditRecorder> logger, SchedulerMetrics metrics)
    {
        _store = store;
        _node = node;
        _time = time;
        _logger = logger;
        _failures = metrics.Meter.CreateCounter<long>("audit_write_failures_total", null,
            "Audit records (changing API requests) this node could not write to audit_log; the requests themselves were answered.");
        _failures.Add(0);
    }

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (!IsChange(http.Request.Method) || http.User.Identity?.IsAuthenticated != true
            || http.GetEndpoint() is not RouteEndpoint endpoint || endpoint.Metadata.GetMetadata<AuditedMetadata>() is null)
        {
            await next(http);
            return;
        }
        var written = 0;
        Task WriteOnce(int status) => Interlocked.Exchange(ref written, 1) == 0 ? WriteAsync(http, endpoint, status) : Task.CompletedTask;
        http.Response.OnStarting(() => WriteOnce(http.Response.StatusCode));
        try
        {
            await next(http);
        }
        catch (Exception) when (!http.Response.HasStarted)
        {
            // The host answers 500 (or nothing, to a caller that went away); the attempt is still recorded.
            await WriteOnce(http.RequestAborted.IsCancellationRequested ? StatusCodes.Status499ClientClosedRequest : StatusCodes.Status500InternalServerError);
            throw;
        }
        if (!http.Response.HasStarted)
            await WriteOnce(http.Response.StatusCode); // an answer without a body starts after the pipeline returns
    }

    private static bool IsChange(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    private async Task WriteAsync(HttpContext http, RouteEndpoint endpoint, int status)
    {
        var note = AuditNotes.Read(http);
        var entry = new AuditEntry(0, _time.GetUtcNow(), ApiKeyNames.Who(http.User), ActionOf(http.Request.Method, endpoint.RoutePattern),
            note?.Target ?? TargetOf(http, endpoint.RoutePattern), note?.Count, note?.Detail, status, _node.Id);
        try
        {
            // Not the request's token: a caller that hangs up after a change does not unrecord it.
            await _store.AddAsync(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
        {
            _failures.Add(1);
            WriteFailed(_logger, ex, entry.Action, entry.Target, entry.Who, status, ex.Message);
        }
    }

    /// <summary>"PUT /api/work-items/{dataType}/{entityId}": the method and the route's pattern, parameter constraints left out (as the OpenAPI document writes paths).</summary>
    public static string ActionOf(string method, RoutePattern pattern) =>
        $"{method} /" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        }))));

    /// <summary>The route's values in the pattern's order, joined by '/' ("daily-prices/AAPL"); null for a route without parameters.</summary>
    private static string? TargetOf(HttpContext http, RoutePattern pattern)
    {
        var values = pattern.Parameters.Select(p => http.Request.RouteValues.TryGetValue(p.Name, out var value) ? value?.ToString() : null)
            .Where(v => !string.IsNullOrEmpty(v)).ToList();
        return values.Count == 0 ? null : string.Join("/", values);
    }

    [LoggerMessage(2200, LogLevel.Warning, "Audit record of {Action} on {Target} by {Who} (answered {Status}) could not be written: {Reason}")]
    private static partial void WriteFailed(ILogger logger, Exception exception, string action, string? target, string who, int status, string reason);
}

namespace BatchScheduler.Audit;

/// <summary>
/// One changing API request as the audit trail keeps it (<c>audit_log</c>, <c>GET /api/audit</c>).
/// </summary>
/// <param name="Id">Grows with each row written; the listing's order, newest first.</param>
/// <param name="At">When the request was answered (UTC, the serving node's clock).</param>
/// <param name="Who">The key's name (<c>Admin:ApiKeys:&lt;i&gt;:Name</c>), or <c>loopback</c> without keys.</param>
/// <param name="Action">The method and route pattern, e.g. <c>PUT /api/work-items/{dataType}/{entityId}</c>.</param>
/// <param name="Target">What it addressed: the route's values (<c>daily-prices/AAPL</c>), or what the handler noted (a bulk request's filter).</param>
/// <param name="Count">How many items it changed, when the handler said (bulk requests).</param>
/// <param name="Detail">The handler's detail line, if any.</param>
/// <param name="Status">The HTTP status it was answered with (403 for a viewer's attempt).</param>
/// <param name="Node">The node that served it.</param>
internal sealed record AuditEntry(
    long Id, DateTimeOffset At, string Who, string Action, string? Target, long? Count, string? Detail, int Status, string Node);

/// <summary>The filters of <c>GET /api/audit</c>; each optional.</summary>
internal sealed record AuditQuery(string? Who, string? Action, DateTimeOffset? Since, long? Before, int Limit);

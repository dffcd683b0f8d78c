namespace BatchScheduler.Hosting;

/// <summary>What <c>/</c> serves until the dashboard lands: links to the JSON views.</summary>
internal static class LandingPage
{
    public const string Html =
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>BatchScheduler</title></head>
        <body style="font-family:sans-serif;max-width:40em;margin:2em auto">
        <h1>BatchScheduler</h1>
        <p>This node is running. The dashboard is not built yet; the same state is available as JSON:</p>
        <ul>
          <li><a href="/api/health">/api/health</a> &mdash; running now, failures in 24 h, counts by state and tier, nodes</li>
          <li><a href="/api/work-items">/api/work-items</a> &mdash; work items (filters: dataType, state, tier, page, pageSize)</li>
          <li><a href="/api/failures?done=false">/api/failures?done=false</a> &mdash; failed attempts to triage</li>
          <li><a href="/api/nodes">/api/nodes</a> &mdash; nodes and their check-ins</li>
        </ul>
        </body></html>
        """;
}

namespace BatchScheduler.Dashboard;

/// <summary>
/// Serves the dashboard: <c>/</c> is its page, <c>/dashboard/…</c> its scripts, styles and the
/// vendored Chart.js. They hold no data, so they need no key; every number on the page comes from
/// <c>/api</c> calls that carry the key the page asks for.
/// </summary>
internal static class DashboardEndpoints
{
    public const string IndexFile = "index.html";
    public const string AssetRoute = "/dashboard";

    /// <summary>
    /// Scripts and styles come only from this node; data never becomes markup (the scripts build
    /// nodes with textContent), and this policy is the second line should that ever slip.
    /// </summary>
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var assets = DashboardAssets.Load();
        app.MapGet("/", (HttpContext context) => Serve(context, assets, IndexFile))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapGet($"{AssetRoute}/{{**path}}", (string path, HttpContext context) => Serve(context, assets, path))
            .AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(HttpContext context, DashboardAssets assets, string path)
    {
        if (!assets.TryGet(path, out var asset))
            return TypedResults.NotFound();
        var headers = context.Response.Headers;
        headers.CacheControl = asset.CacheControl;
        headers.XContentTypeOptions = "nosniff";
        if (path == IndexFile)
        {
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers["Referrer-Policy"] = "no-referrer";
        }
        // Answers If-None-Match with 304 itself.
        return TypedResults.Bytes(asset.Content, asset.ContentType, entityTag: asset.ETag);
    }
}

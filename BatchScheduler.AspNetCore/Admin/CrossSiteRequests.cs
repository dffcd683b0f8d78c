using System.Net.Http.Headers;

namespace BatchScheduler.Admin;

/// <summary>
/// Recognises a change that a page on another origin could have made from a browser on this machine:
/// one the browser marks as cross-site (<c>Origin</c>, <c>Sec-Fetch-Site</c>), or a "simple" request
/// (a POST with no body type or a form's) that a browser sends cross-site without asking first. A
/// browser asks first (a CORS preflight, which this node never grants) before it sends a custom
/// header, a JSON, CSV or NDJSON body, a PUT or a DELETE.
/// </summary>
internal static class CrossSiteRequests
{
    /// <summary>Any value: a browser cannot add this header to a cross-site request without a preflight.</summary>
    public const string Header = "X-Requested-With";

    private static readonly string[] SafelistedContentTypes = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"];

    /// <summary>Why <paramref name="request"/> may have come from a page on another origin, or null when it cannot have.</summary>
    public static string? Refusal(HttpRequest request)
    {
        var method = request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method))
            return null;
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !IsOwnOrigin(origin, request))
            return $"This change was sent by a page on another origin ('{origin}'; this node's own is '{OwnOrigin(request)}'). Without Admin:ApiKeys a loopback caller is trusted only for requests a web page on another origin cannot make.";
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite is "cross-site" or "same-site")
            return $"This change was sent by a page on another site (Sec-Fetch-Site: {fetchSite}). Without Admin:ApiKeys a loopback caller is trusted only for requests a web page on another origin cannot make.";
        if (HttpMethods.IsPost(method) && IsSimpleBody(request.ContentType) && string.IsNullOrWhiteSpace(request.Headers[Header]))
            return $"Without Admin:ApiKeys a POST must show it does not come from a web page: send the header '{Header}' (any value, e.g. '{Header}: curl'), or a JSON body with 'Content-Type: application/json'. A page on another origin can send neither without the node's consent.";
        return null;
    }

    private static string OwnOrigin(HttpRequest request) => $"{request.Scheme}://{request.Host}";

    private static bool IsOwnOrigin(string origin, HttpRequest request)
    {
        // "null" (a sandboxed or file page) and anything unparsable are another origin.
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || !request.Host.HasValue)
            return false;
        var port = request.Host.Port ?? (request.IsHttps ? 443 : 80);
        return string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(uri.Host, request.Host.Host, StringComparison.OrdinalIgnoreCase)
            && uri.Port == port;
    }

    /// <summary>No body type, or one of the three a form (or a no-cors fetch) may send cross-site; an unreadable one counts as simple.</summary>
    private static bool IsSimpleBody(string? contentType) =>
        string.IsNullOrWhiteSpace(contentType)
        || !MediaTypeHeaderValue.TryParse(contentType, out var parsed)
        || SafelistedContentTypes.Contains(parsed.MediaType, StringComparer.OrdinalIgnoreCase);
}

using BatchScheduler.Admin;
using Microsoft.AspNetCore.Http;

namespace BatchScheduler.Tests.Admin;

/// <summary>Which changes a page on another origin could have sent from a browser on this machine.</summary>
public sealed class CrossSiteRequestsTests
{
    private static HttpRequest Request(string method, string? origin = null, string? fetchSite = null, string? contentType = null, string? header = null)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = "http";
        request.Host = new HostString("127.0.0.1:5080");
        if (origin is not null)
            request.Headers.Origin = origin;
        if (fetchSite is not null)
            request.Headers["Sec-Fetch-Site"] = fetchSite;
        if (contentType is not null)
            request.ContentType = contentType;
        if (header is not null)
            request.Headers[CrossSiteRequests.Header] = header;
        return request;
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    [InlineData("OPTIONS")]
    public void Refusal_SafeMethodFromAnotherSite_None(string method) =>
        Assert.Null(CrossSiteRequests.Refusal(Request(method, origin: "http://evil.example", fetchSite: "cross-site")));

    [Theory]
    [InlineData("POST", "http://127.0.0.1:5080", "same-origin", "application/json", null)]
    [InlineData("POST", null, null, "application/json", null)]
    [InlineData("POST", null, null, "application/x-ndjson", null)]
    [InlineData("POST", null, null, "text/csv", null)]
    [InlineData("POST", null, null, null, "curl")]
    [InlineData("POST", null, "none", "text/plain", "curl")]
    [InlineData("PUT", null, null, "text/plain", null)]
    [InlineData("DELETE", null, null, null, null)]
    [InlineData("DELETE", "HTTP://127.0.0.1:5080", null, null, null)]
    public void Refusal_NonSimpleOrOwnOrigin_None(string method, string? origin, string? fetchSite, string? contentType, string? header) =>
        Assert.Null(CrossSiteRequests.Refusal(Request(method, origin, fetchSite, contentType, header)));

    [Theory]
    [InlineData("POST", "http://evil.example", null, "application/json", "x", "another origin")]
    [InlineData("DELETE", "http://127.0.0.1:5081", null, null, null, "another origin")]
    [InlineData("PUT", "https://127.0.0.1:5080", null, "application/json", null, "another origin")]
    [InlineData("DELETE", "null", null, null, null, "another origin")]
    [InlineData("DELETE", null, "cross-site", null, null, "Sec-Fetch-Site: cross-site")]
    [InlineData("PUT", null, "same-site", "application/json", null, "Sec-Fetch-Site: same-site")]
    [InlineData("POST", null, null, null, null, "X-Requested-With")]
    [InlineData("POST", null, null, "text/plain;charset=UTF-8", null, "X-Requested-With")]
    [InlineData("POST", null, null, "Multipart/Form-Data; boundary=x", null, "X-Requested-With")]
    [InlineData("POST", null, null, "application/x-www-form-urlencoded", " ", "X-Requested-With")]
    [InlineData("POST", null, null, "not a media type", null, "X-Requested-With")]
    public void Refusal_CrossSiteOrSimple_SaysWhy(string method, string? origin, string? fetchSite, string? contentType, string? header, string expected) =>
        Assert.Contains(expected, CrossSiteRequests.Refusal(Request(method, origin, fetchSite, contentType, header)));
}

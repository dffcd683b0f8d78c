using BatchScheduler.Configuration;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Api;

/// <summary>
/// Gives every request the small body limit (<c>RequestLimits:MaxBodyBytes</c>) in place of Kestrel's
/// 30 MB; a route that needs more raises it for its own requests (the bulk registration, the batch
/// upload). Set per request rather than on Kestrel's options, which are read when the app is built,
/// before settings are validated.
/// </summary>
internal static class DefaultBodyLimit
{
    public static IApplicationBuilder UseDefaultBodyLimit(this IApplicationBuilder app)
    {
        var limits = app.ApplicationServices.GetRequiredService<IOptions<RequestLimitsOptions>>();
        app.Use((context, next) =>
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                size.MaxRequestBodySize = limits.Value.MaxBodyBytes;
            return next(context);
        });
        return app;
    }
}

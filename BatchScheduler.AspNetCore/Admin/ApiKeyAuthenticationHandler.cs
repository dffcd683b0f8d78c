using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using BatchScheduler.Configuration;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Admin;

/// <summary>
/// With <c>Admin:ApiKeys</c> configured: <c>Authorization: Bearer &lt;key&gt;</c> or
/// <c>X-Api-Key: &lt;key&gt;</c> identifies the caller (named by the key's <c>Name</c>) and its role. With none configured: loopback
/// callers are admins for requests a web page on another origin cannot make (an allowed
/// <c>Host</c>, not cross-site), and everyone else is refused.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<AdminOptions> admin) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "BatchScheduler.ApiKey";
    private const string FailureItem = "BatchScheduler.AuthFailure";
    private const string BrowserRefusalItem = "BatchScheduler.BrowserRefusal";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keys = admin.Value.ApiKeys;
        if (keys.Count == 0)
        {
            var remote = Context.Connection.RemoteIpAddress;
            if (remote is null || IPAddress.IsLoopback(remote))
            {
                var refusal = LoopbackRefusal();
                if (refusal is null)
                    return Task.FromResult(Success(ApiKeyNames.Loopback, AdminRoles.Admin));
                Context.Items[BrowserRefusalItem] = true;
                return Task.FromResult(Fail(refusal));
            }
            return Task.FromResult(Fail("This node has no Admin:ApiKeys configured, so it answers loopback requests only."));
        }
        var presented = PresentedKey();
        if (presented is null)
            return Task.FromResult(AuthenticateResult.NoResult());
        for (var i = 0; i < keys.Count; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(keys[i].Key), Encoding.UTF8.GetBytes(presented)))
                return Task.FromResult(Success(ApiKeyNames.Of(keys[i], i), keys[i].Role));
        }
        return Task.FromResult(Fail("The API key is not valid."));
    }

    /// <summary>Why this loopback request may come from a web page on another origin, or null when it cannot.</summary>
    private string? LoopbackRefusal()
    {
        if (!LoopbackHosts.IsAllowed(Request.Host.HasValue ? Request.Host.Host : null, admin.Value.AllowedHosts))
            return $"Host '{Request.Host.Host}' is not a loopback name nor listed in {LoopbackHosts.Setting}. Without Admin:ApiKeys a loopback caller is trusted only under a loopback name (localhost, 127.0.0.1, [::1]) or a host added to {LoopbackHosts.Setting} (add this one if it is a name of this machine that no one else controls); any other name may be a web page that pointed its own name at this machine.";
        return CrossSiteRequests.Refusal(Request);
    }

    private string? PresentedKey()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization["Bearer ".Length..].Trim();
        var header = Request.Headers["X-Api-Key"].ToString();
        return string.IsNullOrEmpty(header) ? null : header;
    }

    private AuthenticateResult Success(string name, string role)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    private AuthenticateResult Fail(string reason)
    {
        Context.Items[FailureItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var reason = Context.Items[FailureItem] as string
            ?? "An API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.";
        var loopbackOnly = admin.Value.ApiKeys.Count == 0;
        if (Context.Items.ContainsKey(BrowserRefusalItem))
            RefusedLoopbackRequest(Logger, Request.Method, Request.Path, reason);
        return WriteProblemAsync(loopbackOnly ? StatusCodes.Status403Forbidden : StatusCodes.Status401Unauthorized, reason);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "This API key has the viewer role; changing things needs the admin role.");

    private Task WriteProblemAsync(int status, string detail)
    {
        if (status == StatusCodes.Status401Unauthorized)
            Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(detail, statusCode: status, title: status == 401 ? "Unauthorized" : "Forbidden").ExecuteAsync(Context);
    }

    [LoggerMessage(2110, LogLevel.Warning, "Refused {Method} {Path} from a loopback caller without a key: {Reason}")]
    private static partial void RefusedLoopbackRequest(ILogger logger, string method, string path, string reason);
}

using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Library;

/// <summary>
/// BatchScheduler inside an app of its own, in process: AddBatchScheduler with the app's executor,
/// MapBatchScheduler under a prefix beside the app's own routes, and the app's own authorization.
/// (samples/HelloJobs does the same from the packed packages, in Samples/HelloJobsSampleTests.)
/// </summary>
public sealed class MapBatchSchedulerTests : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("library-").FullName;
    private WebApplication? _app;

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/jobs/")]
    public void MapBatchScheduler_PrefixThatIsNotAPath_IsRefusedNamingIt(string prefix)
    {
        var app = WebApplication.CreateBuilder().Build();
        var error = Assert.Throws<ArgumentException>(() => app.MapBatchScheduler(prefix));
        Assert.Equal("prefix", error.ParamName);
        Assert.Contains($"(was \"{prefix}\")", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddBatchScheduler_WithoutAStore_SaysWhichMethodsGiveOne()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<InvalidOperationException>(() =>
            services.AddBatchScheduler(new ConfigurationBuilder().Build(), bs => bs.AddExecutor<GreetingExecutor>("greeting")));
        Assert.Contains("UseSqlite, UsePostgreSql or UseSqlServer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppOfItsOwn_RunsItsExecutor_UnderThePrefix_AndKeepsItsOwnRoutes()
    {
        var greeted = new GreetingExecutor();
        var http = await StartAsync(builder => builder.Services.AddBatchScheduler(builder.Configuration.GetSection("Jobs"), bs => bs
            .UseSqlite($"Data Source={Path.Combine(_directory, "jobs.db")}")
            .AddExecutor("greeting", greeted)));
        http.DefaultRequestHeaders.Add("X-Requested-With", "library test");

        var put = await http.PutAsJsonAsync("/jobs/api/work-items/greetings/world", new { payload = new { name = "World" } });
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        Assert.Equal("world", await greeted.Entity.Task.WaitAsync(TimeSpan.FromSeconds(30)));

        // The app's own route at a path BatchScheduler serves under the prefix is still the app's.
        Assert.Equal("the app's own", await http.GetStringAsync("/api/work-items/greetings/world"));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/jobs/healthz/ready")).StatusCode);
        var page = await http.GetStringAsync("/jobs/");
        Assert.Contains("src=\"dashboard/app.js\"", page, StringComparison.Ordinal);
        // Unknown routes under the prefix answer problem details; the app's 404s stay its own (empty).
        var unknown = await http.GetAsync("/jobs/no-such-page");
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, (await http.GetAsync("/no-such-page")).Content.Headers.ContentLength ?? 0);
    }

    [Fact]
    public async Task UseAuthorizationPolicies_TheAppsSignInDecides_AndTheAuditNamesItsUser()
    {
        var http = await StartAsync(builder =>
        {
            builder.Services.AddAuthentication(HeaderAuthentication.Scheme)
                .AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.Scheme, null);
            builder.Services.AddAuthorization(o =>
            {
                o.AddPolicy("ops", p => p.RequireAuthenticatedUser());
                o.AddPolicy("ops-admin", p => p.RequireRole("ops-admin"));
            });
            builder.Services.AddBatchScheduler(builder.Configuration.GetSection("Jobs"), bs => bs
                .UseSqlite($"Data Source={Path.Combine(_directory, "jobs.db")}")
                .AddExecutor("greeting", new GreetingExecutor())
                .UseAuthorizationPolicies("ops", "ops-admin"));
        });

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/jobs/api/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(http, HttpMethod.Get, "/jobs/api/health", user: "alice")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(http, HttpMethod.Post, "/jobs/api/data-types/greetings/pause", user: "alice")).StatusCode);
        var paused = await Send(http, HttpMethod.Post, "/jobs/api/data-types/greetings/pause", user: "bob", role: "ops-admin");
        Assert.True(paused.IsSuccessStatusCode, await paused.Content.ReadAsStringAsync());

        var audit = await (await Send(http, HttpMethod.Get, "/jobs/api/audit", user: "alice")).Content.ReadFromJsonAsync<JsonElement>();
        // The next page's link keeps the prefix.
        var firstOnly = await Send(http, HttpMethod.Get, "/jobs/api/audit?limit=1", user: "alice");
        Assert.StartsWith("</jobs/api/audit?limit=1&after=", Assert.Single(firstOnly.Headers.GetValues("Link")), StringComparison.Ordinal);
        var who = audit.EnumerateArray().Select(e => (e.GetProperty("who").GetString(), e.GetProperty("status").GetInt32())).ToList();
        Assert.Contains(("bob", 200), who);
        Assert.Contains(("alice", 403), who);
    }

    private static Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string user, string? role = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
            request.Content = JsonContent.Create(new { reason = "library test" });
        request.Headers.Add(HeaderAuthentication.UserHeader, user);
        if (role is not null)
            request.Headers.Add(HeaderAuthentication.RoleHeader, role);
        return http.SendAsync(request);
    }

    private async Task<HttpClient> StartAsync(Action<WebApplicationBuilder> configure)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:DataTypes:greetings:Executor"] = "greeting",
            ["Jobs:Cluster:NodeId"] = "library-test",
        });
        configure(builder);
        _app = builder.Build();
        _app.MapGet("/api/work-items/{dataType}/{entityId}", () => "the app's own");
        _app.MapBatchScheduler("/jobs");
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(address) };
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a temp folder; left for the OS
        }
    }

    private sealed class GreetingExecutor : IWorkItemExecutor
    {
        public TaskCompletionSource<string> Entity { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Entity.TrySetResult(context.EntityId);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The app's own sign-in, for the test: the user and role are request headers.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Scheme = "AppHeaders";
        public const string UserHeader = "X-Test-User";
        public const string RoleHeader = "X-Test-Role";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers[UserHeader] is not [{ Length: > 0 } user])
                return Task.FromResult(AuthenticateResult.NoResult());
            var claims = new List<Claim> { new(ClaimTypes.Name, user) };
            if (Request.Headers[RoleHeader] is [{ Length: > 0 } role])
                claims.Add(new Claim(ClaimTypes.Role, role));
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme)), Scheme)));
        }
    }
}

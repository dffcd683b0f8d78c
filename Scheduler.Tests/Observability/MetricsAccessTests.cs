using System.Net;
using BatchScheduler.Tests.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Observability;

/// <summary>Makes every request of a node come from <see cref="Address"/>, as if from another machine.</summary>
public sealed class RemotePeer : IStartupFilter
{
    public static readonly IPAddress Address = IPAddress.Parse("203.0.113.7");

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            context.Connection.RemoteIpAddress = Address;
            return nextMiddleware(context);
        });
        next(app);
    };
}

/// <summary>A node without <c>Admin:ApiKeys</c> whose callers all come from a non-loopback address.</summary>
public sealed class RemotePeerWithoutKeysFixture : SharedNodeFixture
{
    protected override Dictionary<string, string?> Settings() => new() { ["Cluster:Role"] = "api", ["DataTypes:t:Executor"] = "noop" };

    protected override Action<IServiceCollection>? Services => s => s.AddTransient<IStartupFilter, RemotePeer>();
}

/// <summary>A node with a viewer key and an admin key.</summary>
public sealed class MetricsKeysFixture : SharedNodeFixture
{
    public const string ViewerKey = "metrics-viewer-key-0123";
    public const string AdminKey = "metrics-admin-key-4567";

    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:t:Executor"] = "noop",
        ["Admin:ApiKeys:0:Key"] = ViewerKey,
        ["Admin:ApiKeys:0:Role"] = "viewer",
        ["Admin:ApiKeys:1:Key"] = AdminKey,
        ["Admin:ApiKeys:1:Role"] = "admin",
    };
}

/// <summary>Without keys, <c>/metrics</c> answers loopback callers only; <c>/healthz</c> answers everyone.</summary>
[Trait("Provider", "Sqlite")]
public sealed class MetricsWithoutKeysAccessTests(RemotePeerWithoutKeysFixture fixture) : IClassFixture<RemotePeerWithoutKeysFixture>
{
    [Fact]
    public async Task Metrics_RemotePeerWithoutKeysConfigured_Returns403()
    {
        using var response = await fixture.Node.Http.GetAsync("/metrics");

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("loopback", body);
        Assert.DoesNotContain("process_cpu_seconds_total", body);
    }

    [Fact]
    public async Task Healthz_RemotePeerWithoutKeysConfigured_Returns200()
    {
        using var response = await fixture.Node.Http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

/// <summary>With keys, <c>/metrics</c> needs one (any role), as Prometheus sends it: <c>Authorization: Bearer</c>.</summary>
[Trait("Provider", "Sqlite")]
public sealed class MetricsWithKeysAccessTests(MetricsKeysFixture fixture) : IClassFixture<MetricsKeysFixture>
{
    [Theory]
    [InlineData(null, null)]
    [InlineData("Authorization", "Bearer not-a-key-of-this-node")]
    [InlineData("X-Api-Key", "not-a-key-of-this-node")]
    public async Task Metrics_WithoutAValidKey_Returns401WithBearerChallenge(string? header, string? value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (header is not null)
            request.Headers.TryAddWithoutValidation(header, value);

        using var response = await fixture.Node.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.DoesNotContain("process_cpu_seconds_total", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("Authorization", "Bearer " + MetricsKeysFixture.ViewerKey)]
    [InlineData("Authorization", "Bearer " + MetricsKeysFixture.AdminKey)]
    [InlineData("X-Api-Key", MetricsKeysFixture.ViewerKey)]
    public async Task Metrics_WithAKey_ReturnsPrometheusText(string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await fixture.Node.Http.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("# TYPE process_cpu_seconds_total counter", body);
    }
}

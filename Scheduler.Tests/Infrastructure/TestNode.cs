using System.Net.Http.Json;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// A real node (Kestrel on a loopback port, Quartz, the real store) started in-process with
/// settings given by the test instead of appsettings.json.
/// </summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(WebApplication app, Uri baseAddress)
    {
        App = app;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        // As a script does (docs/security.md, Access): without keys a loopback POST needs it.
        Http.DefaultRequestHeaders.Add(BatchScheduler.Admin.CrossSiteRequests.Header, "BatchScheduler tests");
    }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    public WorkItemStore Store => App.Services.GetRequiredService<WorkItemStore>();

    public static async Task<TestNode> StartAsync(
        StorageProvider provider, string connectionString, IDictionary<string, string?> settings,
        Action<IServiceCollection>? services = null)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Storage:Provider"] = provider.ToString(),
            ["Storage:ConnectionString"] = connectionString,
            ["Cluster:NodeId"] = $"test-{Guid.NewGuid():N}"[..16],
            ["Cluster:MaxConcurrency"] = "8",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings)
            configuration[key] = value;

        var app = NodeHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(configuration);
        }, services);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync(); // what it took (a SQLite file's lock, ports) goes with it
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestNode(app, new Uri(address));
    }

    public Task<WorkItem?> ItemAsync(string dataType, string entityId) =>
        Store.GetAsync(dataType, entityId, CancellationToken.None);

    /// <summary>Waits until the item's state is <paramref name="state"/>, and returns it.</summary>
    public async Task<WorkItem> WaitForStateAsync(string dataType, string entityId, string state, TimeSpan? timeout = null)
    {
        WorkItem? item = null;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                item = await ItemAsync(dataType, entityId);
                return item?.State == state;
            }, timeout ?? TimeSpan.FromSeconds(30), $"{dataType}/{entityId} should reach state {state}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} (last seen: {item?.State ?? "no row"}, attempt {item?.Attempt}, last error {item?.LastError})", ex);
        }
        return item!;
    }

    public async Task PutAsync(string dataType, string entityId, object body)
    {
        using var response = await Http.PutAsJsonAsync($"/api/work-items/{dataType}/{Uri.EscapeDataString(entityId)}", body);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

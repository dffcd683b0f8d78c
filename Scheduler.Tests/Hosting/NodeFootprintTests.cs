using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Hosting;

/// <summary>
/// What a running node process maps: only its own provider's client library, no ICU, and no XML
/// (ASP.NET Core data protection's key ring, which API keys do not use). Each was several MB of a
/// worker's resident memory (the target is under 150 MB with 1,000,000 items stored).
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class NodeFootprintTests
{
    [Fact]
    public async Task APostgresWorker_MapsNeitherOtherProvidersNorIcuNorXml()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["Storage:ConnectionString"] = store.ConnectionString,
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
        });
        // A request through authentication, the API and the store, so what serving loads is loaded.
        (await node.Http.GetAsync("/api/health")).EnsureSuccessStatusCode();

        var maps = await File.ReadAllTextAsync($"/proc/{node.ProcessId}/maps");

        Assert.Contains("Npgsql.dll", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("Microsoft.Data.SqlClient", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("libicu", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("System.Private.Xml.dll", maps, StringComparison.Ordinal);
    }
}

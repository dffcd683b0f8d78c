using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Demo;

/// <summary>
/// Registers demo items for every data type that uses the <c>demo</c> executor, so the
/// out-of-the-box run has something to show. Only missing items are registered: a second start
/// changes nothing, re-runs nothing and keeps any tier or payload set since.
/// </summary>
internal sealed class DemoSeeder(
    IOptions<DemoOptions> demo, DataTypeCatalog catalog, WorkItemService service, WorkItemStore store,
    IOptionsMonitor<DemoExecutorOptions> demoExecutor, ILogger<DemoSeeder> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!demo.Value.SeedItems)
            return;
        foreach (var dataType in catalog.All.Where(d => d.Options.Executor == BuiltInExecutors.Demo))
        {
            var ids = demoExecutor.Get(dataType.Name).AlwaysFail
                .Concat(Enumerable.Range(1, demo.Value.ItemsPerDataType).Select(i => $"item-{i:000}"))
                .Distinct(StringComparer.Ordinal);
            var existing = await store.ExistingEntityIdsAsync(dataType.Name, ids.ToList(), cancellationToken);
            var items = ids.Where(id => !existing.Contains(id))
                .Select(id => new WorkItemRegistration(id, dataType.DefaultTier, JsonSerializer.Serialize(new { demo = true, entity = id })))
                .ToList();
            if (items.Count > 0)
                await service.RegisterAsync(dataType, items, cancellationToken);
            logger.LogInformation("Demo data type {DataType}: {Count} items registered, {Existing} already there left as they are",
                dataType.Name, items.Count, existing.Count);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using BatchScheduler.WorkItems;

namespace BatchScheduler.Hosting;

/// <summary>At start, gives every item that lost its trigger a new one, so no accepted item is left behind.</summary>
internal sealed class TriggerRepairService(DataTypeCatalog catalog, WorkItemService service, ILogger<TriggerRepairService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var dataType in catalog.All)
        {
            var repaired = await service.RepairTriggersAsync(dataType, cancellationToken);
            if (repaired > 0)
                logger.LogWarning("Re-armed {Count} {DataType} items that had no trigger", repaired, dataType.Name);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

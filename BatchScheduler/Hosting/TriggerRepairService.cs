using BatchScheduler.Configuration;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Hosting;

/// <summary>
/// Keeps every accepted item schedulable: at start (before Quartz fires anything) and then every
/// <see cref="ClusterOptions.RepairInterval"/>, it re-arms items that lost their trigger and frees
/// triggers Quartz left stuck. A failed pass is logged and tried again next time; it never stops
/// the node.
/// </summary>
internal sealed partial class TriggerRepairService(
    DataTypeCatalog catalog, WorkItemService service, StuckTriggerRepair stuck, IOptions<ClusterOptions> cluster,
    TimeProvider time, ILogger<TriggerRepairService> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await RepairAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(cluster.Value.RepairInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RepairAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
                {
                    RepairFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping (also when another service failed to start, e.g. on a busy port): not a crash to report.
        }
    }

    internal async Task RepairAsync(CancellationToken cancellationToken)
    {
        var freed = await stuck.RepairAsync(cancellationToken);
        if (freed > 0)
            FreedStuckTriggers(logger, freed);
        foreach (var dataType in catalog.All)
        {
            var repaired = await service.RepairTriggersAsync(dataType, cancellationToken);
            if (repaired > 0)
                ReArmed(logger, repaired, dataType.Name);
        }
    }

    [LoggerMessage(1100, LogLevel.Warning, "Re-armed {Count} {DataType} items that had no trigger")]
    private static partial void ReArmed(ILogger logger, int count, string dataType);

    [LoggerMessage(1101, LogLevel.Warning, "Freed {Count} triggers Quartz had left ACQUIRED or BLOCKED with no fired-trigger row")]
    private static partial void FreedStuckTriggers(ILogger logger, int count);

    [LoggerMessage(1102, LogLevel.Warning, "Trigger repair failed; trying again at the next interval")]
    private static partial void RepairFailed(ILogger logger, Exception exception);
}

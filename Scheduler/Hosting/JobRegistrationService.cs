using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Quartz;

namespace BatchScheduler.Hosting;

/// <summary>
/// Stores one durable coordinator job per configured data type (replacing what was there), then has
/// PostgreSQL's statistics of the jobs table refreshed (<see cref="PostgresStatistics.JobsStoredAsync"/>).
/// </summary>
internal sealed class JobRegistrationService(ISchedulerFactory schedulers, DataTypeCatalog catalog, PostgresStatistics statistics) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var dataType in catalog.All)
            await scheduler.AddJob(WorkItemScheduler.JobFor(dataType.Name), AddJobOptions.Replacing, cancellationToken);
        await statistics.JobsStoredAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

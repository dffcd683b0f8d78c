using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Quartz;

namespace BatchScheduler.Hosting;

/// <summary>Stores one durable coordinator job per configured data type (replacing what was there).</summary>
internal sealed class JobRegistrationService(ISchedulerFactory schedulers, DataTypeCatalog catalog) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var dataType in catalog.All)
            await scheduler.AddJob(WorkItemScheduler.JobFor(dataType.Name), AddJobOptions.Replacing, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using BatchScheduler.Configuration;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using BatchScheduler.Time;
using Microsoft.Extensions.Options;
using Quartz;

namespace BatchScheduler.Hosting;

/// <summary>
/// Stores one durable coordinator job per configured data type (replacing what was there) and its
/// quiet-hours calendar (<c>quiet:&lt;dataType&gt;</c>, replaced, and put on or taken off its triggers as
/// the configuration now says), then has
/// PostgreSQL's statistics of the jobs table refreshed (<see cref="PostgresStatistics.JobsStoredAsync"/>).
/// </summary>
internal sealed class JobRegistrationService(
    ISchedulerFactory schedulers, DataTypeCatalog catalog, PostgresStatistics statistics, ConnectionFactory connections, IOptions<ClusterOptions> cluster) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var dataType in catalog.All)
        {
            await scheduler.AddJob(WorkItemScheduler.JobFor(dataType.Name), AddJobOptions.Replacing, cancellationToken);
            var name = QuietHoursCalendar.CalendarName(dataType.Name);
            if (dataType.QuietHours is { } quiet)
            {
                await scheduler.AddCalendar(name, quiet, AddCalendarOptions.Replacing, cancellationToken);
                await QuietHoursTriggerRows.SetCalendarAsync(connections, cluster.Value.SchedulerName, dataType.Name, name, cancellationToken);
            }
            else if ((await scheduler.GetCalendarNames(cancellationToken)).Contains(name))
            {
                await QuietHoursTriggerRows.SetCalendarAsync(connections, cluster.Value.SchedulerName, dataType.Name, null, cancellationToken);
                await scheduler.DeleteCalendar(name, cancellationToken);
            }
        }
        await statistics.JobsStoredAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

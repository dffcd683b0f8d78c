using BatchScheduler.Hosting;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// A cron item's trigger as Quartz stores it, on SQLite and PostgreSQL: a cron trigger in the data type's
/// zone whose ticks, read back from the store, cross the DST changes at 08:00 local; and quiet hours stored
/// in <c>qrtz_calendars</c> and named on the trigger.
/// </summary>
public sealed class CronTriggerStoreTests
{
    private const string DataType = "dose";

    private static Dictionary<string, string?> Settings => new()
    {
        ["Cluster:Role"] = "api",
        [$"DataTypes:{DataType}:Executor"] = "noop",
        [$"DataTypes:{DataType}:Cadence:daily"] = "cron:0 0 8 * * ?",
        [$"DataTypes:{DataType}:TimeZone"] = "Europe/Berlin",
        [$"DataTypes:{DataType}:QuietHours:0:From"] = "22:00",
        [$"DataTypes:{DataType}:QuietHours:0:To"] = "07:00",
    };

    private static async Task<(TestNode Node, IAsyncDisposable Database)> StartAsync(string provider)
    {
        if (provider == "Postgres")
        {
            var database = await PostgresTestDatabase.CreateAsync();
            return (await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings), database);
        }
        var file = new SqliteTestDatabase();
        return (await TestNode.StartAsync(StorageProvider.Sqlite, file.ConnectionString, Settings), new Disposing(file));
    }

    private sealed class Disposing(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    [Theory]
    // Ahead of the clock (Quartz starts a cron trigger no earlier than now): the 2027 changes, 28 March and 31 October.
    [InlineData("Sqlite", "2027-03-26T12:00:00Z", "2027-03-27T07:00:00Z", "2027-03-28T06:00:00Z")]
    [InlineData("Postgres", "2027-03-26T12:00:00Z", "2027-03-27T07:00:00Z", "2027-03-28T06:00:00Z")]
    [InlineData("Sqlite", "2027-10-29T12:00:00Z", "2027-10-30T06:00:00Z", "2027-10-31T07:00:00Z")]
    [InlineData("Postgres", "2027-10-29T12:00:00Z", "2027-10-30T06:00:00Z", "2027-10-31T07:00:00Z")]
    public async Task ArmAsync_CronItemInBerlin_StoresACronTriggerWhoseTicksStay08LocalAcrossTheDstChange(
        string provider, string start, string first, string afterTheChange)
    {
        var (node, database) = await StartAsync(provider);
        await using var _ = database;
        await using var __ = node;
        var catalog = node.App.Services.GetRequiredService<DataTypeCatalog>();
        Assert.True(catalog.TryGet(DataType, out var dataType));
        await node.App.Services.GetRequiredService<WorkItemService>().RegisterAsync(dataType, [new WorkItemRegistration("patient-881", "daily", "{}")], CancellationToken.None);

        await node.App.Services.GetRequiredService<WorkItemScheduler>().ArmAsync(
            dataType, [("patient-881", "daily", DateTimeOffset.Parse(start), false)], CancellationToken.None);

        var scheduler = await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var stored = Assert.IsAssignableFrom<ICronTrigger>(await scheduler.GetTrigger(WorkItemKeys.Trigger(DataType, "patient-881")));
        Assert.Equal("0 0 8 * * ?", stored.CronExpressionString);
        Assert.Equal("Europe/Berlin", stored.TimeZone.Id);
        Assert.Equal(DateTimeOffset.Parse(first), stored.NextFireTimeUtc);
        Assert.Equal(DateTimeOffset.Parse(afterTheChange), stored.GetFireTimeAfter(DateTimeOffset.Parse(first)));
        Assert.Equal("quiet:" + DataType, stored.CalendarName);
        var calendar = Assert.IsType<BatchScheduler.Time.QuietHoursCalendar>(await scheduler.GetCalendar("quiet:" + DataType));
        Assert.Equal("22:00-07:00 every day", Assert.Single(calendar.Windows).ToString());
    }
}

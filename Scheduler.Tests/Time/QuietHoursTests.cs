using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using Quartz;

namespace BatchScheduler.Tests.Time;

/// <summary>
/// Quiet hours 22:00–07:00 in Europe/Berlin, across midnight, on SQLite and PostgreSQL: a firing that lands
/// inside them is held back to 07:00 and starts then; a reminder whose expiry window closes inside them expires
/// at 07:00 instead of running; and Quartz's stored trigger of an item due inside them fires at their end.
/// Firings are admitted on a fake clock, days ahead of the real one (Quartz does not fire them meanwhile).
/// </summary>
public sealed class QuietHoursTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    /// <summary>A day ten days ahead in Berlin: every time of it is ahead of the real clock.</summary>
    private static readonly DateOnly Day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(TimeProvider.System.GetUtcNow(), Berlin).DateTime).AddDays(10);

    private static Dictionary<string, string?> Settings => new()
    {
        // One-shot doses and a quarter-hourly check, no expiry.
        ["DataTypes:dose:Executor"] = "noop",
        ["DataTypes:dose:Cadence:once"] = "",
        ["DataTypes:dose:Cadence:quarterly"] = "cron:0 0/15 * * * ?",
        ["DataTypes:dose:DefaultTier"] = "once",
        ["DataTypes:dose:TimeZone"] = "Europe/Berlin",
        ["DataTypes:dose:QuietHours:0:From"] = "22:00",
        ["DataTypes:dose:QuietHours:0:To"] = "07:00",
        // A daily reminder at 21:50 that is pointless more than half an hour late.
        ["DataTypes:reminder:Executor"] = "noop",
        ["DataTypes:reminder:Cadence:daily"] = "cron:0 50 21 * * ?",
        ["DataTypes:reminder:TimeZone"] = "Europe/Berlin",
        ["DataTypes:reminder:QuietHours:0:From"] = "22:00",
        ["DataTypes:reminder:QuietHours:0:To"] = "07:00",
        ["DataTypes:reminder:Expiry"] = "00:30:00",
    };

    /// <summary><paramref name="hour"/>:<paramref name="minute"/> Berlin time, <paramref name="days"/> after <see cref="Day"/>, as a UTC instant.</summary>
    private static DateTimeOffset Local(int days, int hour, int minute)
    {
        var local = Day.AddDays(days).ToDateTime(new TimeOnly(hour, minute));
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, Berlin), TimeSpan.Zero);
    }

    /// <summary>The node's admission and lifecycle, both on <paramref name="clock"/>.</summary>
    private static FiringAdmission AdmissionOn(TestNode node, TimeProvider clock)
    {
        var services = node.App.Services;
        var lifecycle = new ItemLifecycle(services.GetRequiredService<ItemLocks>(), services.GetRequiredService<ItemRows>(),
            services.GetRequiredService<WorkItemScheduler>(), services.GetRequiredService<NodeIdentity>(), clock,
            services.GetRequiredService<ILogger<ItemLifecycle>>(), services.GetRequiredService<BatchScheduler.Coordination.RunningItems>());
        return ActivatorUtilities.CreateInstance<FiringAdmission>(services, clock, lifecycle);
    }

    /// <summary>Admits the firing of the item's stored trigger as Quartz would hand it over, at the fake clock's time.</summary>
    private static async Task<Admitted?> AdmitAsync(TestNode node, FiringAdmission admission, string dataType, string entityId, TimeProvider clock)
    {
        Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(dataType, out var definition));
        var scheduler = await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var trigger = await scheduler.GetTrigger(WorkItemKeys.Trigger(dataType, entityId));
        Assert.NotNull(trigger);
        var firing = Substitute.For<IJobExecutionContext>();
        firing.Trigger.Returns(trigger);
        firing.ScheduledFireTimeUtc.Returns(trigger.NextFireTimeUtc);
        // What Quartz's firing leaves as the trigger's next fire time (none for a single firing).
        firing.NextFireTimeUtc.Returns(trigger.GetFireTimeAfter(trigger.NextFireTimeUtc));
        return await admission.AdmitAsync(firing, definition, entityId, FiringData.From(firing, clock.GetUtcNow()));
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AdmitAsync_FiringAt2330Local_IsHeldUntil0700NextDay_AndStartsThen(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings);
        await node.PutAsync("dose", "patient-881", new { runAt = Local(0, 21, 30).ToString("O") });
        Assert.Equal(Local(0, 21, 30), (await node.ItemAsync("dose", "patient-881"))!.NextRunAt);
        var clock = new FakeTimeProvider(Local(0, 23, 30)); // late: a backlog, downtime
        var admission = AdmissionOn(node, clock);

        var atNight = await AdmitAsync(node, admission, "dose", "patient-881", clock);

        Assert.Null(atNight);
        var held = (await node.ItemAsync("dose", "patient-881"))!;
        Assert.Equal((WorkItemStates.Deferred, Local(1, 7, 0)), (held.State, held.NextRunAt));
        Assert.Equal($"Quiet hours until {Local(1, 7, 0):u}", held.LastError);

        clock.SetUtcNow(Local(1, 7, 0));
        var atSeven = await AdmitAsync(node, admission, "dose", "patient-881", clock);

        Assert.NotNull(atSeven);
        var started = (await node.ItemAsync("dose", "patient-881"))!;
        Assert.Equal((WorkItemStates.InFlight, Local(1, 7, 0)), (started.State, started.UpdatesStart));
    }

    /// <summary>
    /// What Quartz stores: an item due inside quiet hours (a <c>runAt</c> at 23:30; a quarter-hourly cron item
    /// whose ticks from 22:00 to 06:45 are excluded by the <c>quiet:dose</c> calendar) is next due at 07:00.
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite, "once", 23, 30)]
    [InlineData(StorageProvider.Postgres, "once", 23, 30)]
    [InlineData(StorageProvider.Sqlite, "quarterly", 21, 50)]
    [InlineData(StorageProvider.Postgres, "quarterly", 21, 50)]
    public async Task Put_ItemDueInsideQuietHours_ItsStoredTriggerFiresAt0700NextDay(StorageProvider provider, string tier, int hour, int minute)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, new Dictionary<string, string?>(Settings) { ["Cluster:Role"] = "api" });

        await node.PutAsync("dose", "patient-881", new { tier, runAt = Local(0, hour, minute).ToString("O") });

        var scheduler = await node.App.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        var trigger = await scheduler.GetTrigger(WorkItemKeys.Trigger("dose", "patient-881"));
        Assert.Equal(("quiet:dose", Local(1, 7, 0)), (trigger!.CalendarName, trigger.NextFireTimeUtc));
        Assert.Equal(Local(1, 7, 0), (await node.ItemAsync("dose", "patient-881"))!.NextRunAt);
    }

    /// <summary>
    /// The README's reminder whose window closes during quiet hours: due 21:50 with <c>Expiry</c> 00:30:00, its
    /// firing at 22:05 is held back; at 07:00 the window (until 22:20) has closed, so it expires, and waits for
    /// its next tick (21:50 that day).
    /// </summary>
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AdmitAsync_ReminderHeldByQuietHoursPastItsExpiry_ExpiresAt0700(StorageProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings);
        await node.PutAsync("reminder", "patient-881", new { tier = "daily", runAt = Local(0, 21, 0).ToString("O") });
        Assert.Equal(Local(0, 21, 50), (await node.ItemAsync("reminder", "patient-881"))!.NextRunAt);
        var clock = new FakeTimeProvider(Local(0, 22, 5));
        var admission = AdmissionOn(node, clock);

        Assert.Null(await AdmitAsync(node, admission, "reminder", "patient-881", clock));

        var held = (await node.ItemAsync("reminder", "patient-881"))!;
        Assert.Equal((WorkItemStates.Deferred, Local(1, 7, 0)), (held.State, held.NextRunAt));

        clock.SetUtcNow(Local(1, 7, 0));
        Assert.Null(await AdmitAsync(node, admission, "reminder", "patient-881", clock));

        var expired = (await node.ItemAsync("reminder", "patient-881"))!;
        Assert.Equal((WorkItemStates.Expired, Local(1, 21, 50)), (expired.State, expired.NextRunAt));
        Assert.Equal($"Expired: attempt 1 would start at {Local(1, 7, 0):u}, past the expiry window of 00:30:00 from {Local(0, 21, 50):u}", expired.LastError);
    }
}

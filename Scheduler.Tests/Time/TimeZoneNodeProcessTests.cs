using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Time;

/// <summary>
/// The node's own process runs with invariant globalization (Scheduler.csproj; the test process does not):
/// a data type's IANA zone is still found there (Debian's tzdata, not ICU), and a cron item's next run is
/// its tick in that zone.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class TimeZoneNodeProcessTests
{
    [Fact]
    public async Task NodeProcess_InvariantGlobalization_FindsEuropeBerlin_AndDueAt08Berlin()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = store.ConnectionString,
            ["Cluster:Role"] = "api",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["DataTypes:dose:Executor"] = "noop",
            ["DataTypes:dose:Cadence:daily"] = "cron:0 0 8 * * ?",
            ["DataTypes:dose:TimeZone"] = "Europe/Berlin",
        });
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var now = TimeZoneInfo.ConvertTime(TimeProvider.System.GetUtcNow(), berlin);
        var eight = now.Date.AddHours(8) > now.DateTime ? now.Date.AddHours(8) : now.Date.AddDays(1).AddHours(8);

        using (var put = await node.Http.PutAsJsonAsync("/api/work-items/dose/patient-881", new { tier = "daily" }))
            put.EnsureSuccessStatusCode();
        var item = await node.Http.GetFromJsonAsync<JsonElement>("/api/work-items/dose/patient-881");

        Assert.Equal(TimeZoneInfo.ConvertTimeToUtc(eight, berlin), item.GetProperty("nextRunAt").GetDateTimeOffset().UtcDateTime);
        var maps = await File.ReadAllTextAsync($"/proc/{node.ProcessId}/maps");
        Assert.DoesNotContain("libicu", maps, StringComparison.Ordinal); // the node really runs without ICU
    }
}

using System.Globalization;
using System.Net.Http.Json;
using BatchScheduler.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// Recovery first on SQLite (no set-based rounds): a node SIGKILLed during a never-run backlog and
/// started again runs its recovered firings before the rest of that backlog.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class RecoveryFirstJobStoreTests(ITestOutputHelper output)
{
    private const int Held = 2;
    private const int Backlog = 2000;

    [Fact]
    public async Task Restart_AfterAKillDuringANeverRunBacklog_RunsTheRecoveredFiringsBeforeTheBacklog()
    {
        using var database = new SqliteTestDatabase();
        await using var recorder = await HeldCallRecorder.StartAsync(dataType => dataType == "bulk" ? TimeSpan.FromMilliseconds(50) : null);
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = database.ConnectionString,
            ["Cluster:NodeId"] = "solo",
            ["Cluster:MaxConcurrency"] = "8",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["DataTypes:slow:Executor"] = "http",
            ["DataTypes:slow:Http:Url"] = recorder.UrlFor("slow"),
            ["DataTypes:slow:Http:Timeout"] = "00:10:00",
            ["DataTypes:bulk:Executor"] = "http",
            ["DataTypes:bulk:Http:Url"] = recorder.UrlFor("bulk"),
        };
        await using (var node = await NodeProcess.StartAsync(settings))
        {
            for (var i = 0; i < Held; i++)
                (await node.Http.PutAsync($"/api/work-items/slow/held-{i}", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
                    .EnsureSuccessStatusCode();
            await Eventually.TrueAsync(() => Task.FromResult(recorder.Active == Held), TimeSpan.FromSeconds(30), "the node runs the held items");
            var items = Enumerable.Range(0, Backlog).Select(i => new { entityId = $"b-{i:0000}" }).ToList();
            (await node.Http.PostAsJsonAsync("/api/work-items", new { dataType = "bulk", items })).EnsureSuccessStatusCode();
            await Eventually.TrueAsync(() => Task.FromResult(recorder.Calls.Count(c => c.DataType == "bulk") >= 50), TimeSpan.FromSeconds(30),
                "the node drains the backlog");
            await node.KillAsync();
        }
        var bulkAtKill = recorder.Calls.Count(c => c.DataType == "bulk");

        await using var restarted = await NodeProcess.StartAsync(settings);

        await Eventually.TrueAsync(
            () => Task.FromResult(Enumerable.Range(0, Held).All(i => recorder.CallsOf("slow", $"held-{i}").Count == 2)),
            TimeSpan.FromSeconds(120), "every held item runs again after the restart");
        var calls = recorder.Calls;
        var lastRestart = Enumerable.Range(0, Held).Max(i => recorder.CallsOf("slow", $"held-{i}")[1].Sequence);
        var startedBefore = calls.Where(c => c.DataType == "bulk" && c.Sequence < lastRestart).Select(c => c.EntityId).Distinct().Count();
        var waitingBehind = Backlog - startedBefore;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{bulkAtKill} of {Backlog} backlog items had started at the kill; after the restart the {Held} held items ran again with {waitingBehind} still waiting behind them"));
        Assert.True(waitingBehind > 0, "the recovered runs waited for the whole never-run backlog to drain");
        Assert.Equal(1, recorder.MaxConcurrentPerEntity);
    }
}

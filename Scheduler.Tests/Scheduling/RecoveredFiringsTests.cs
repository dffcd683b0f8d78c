using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// Recovery first: a node SIGKILLed while a backlog of never-run items drains has its interrupted
/// executions re-run by the surviving node ahead of that backlog, not after it.
/// </summary>
[Trait("Provider", "Postgres")]
public sealed class RecoveredFiringsTests(ITestOutputHelper output)
{
    private const int Held = 4;
    private const int Backlog = 4000;

    private static Dictionary<string, string?> Settings(TestStore store, HeldCallRecorder recorder, string nodeId) => new()
    {
        ["Storage:Provider"] = store.Provider.ToString(),
        ["Storage:ConnectionString"] = store.ConnectionString,
        ["Cluster:NodeId"] = nodeId,
        ["Cluster:MaxConcurrency"] = "8",
        ["Cluster:CheckinInterval"] = "00:00:01",
        ["Demo:SeedItems"] = "false",
        ["Serilog:MinimumLevel:Default"] = "Warning",
        // Long items, with an expiry: a recovered run must still count its expiry window from when the
        // item was due, wherever its recovery trigger is moved in the due order.
        ["DataTypes:slow:Executor"] = "http",
        ["DataTypes:slow:Http:Url"] = recorder.UrlFor("slow"),
        ["DataTypes:slow:Http:Timeout"] = "00:10:00",
        ["DataTypes:slow:Expiry"] = "01:00:00",
        ["DataTypes:bulk:Executor"] = "http",
        ["DataTypes:bulk:Http:Url"] = recorder.UrlFor("bulk"),
    };

    [Fact]
    public async Task Kill_NodeDuringANeverRunBacklog_ItsRecoveredFiringsRunBeforeTheBacklogDrains()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        await using var recorder = await HeldCallRecorder.StartAsync(dataType => dataType == "bulk" ? TimeSpan.FromMilliseconds(50) : null);
        await using var dying = await NodeProcess.StartAsync(Settings(store, recorder, "node-a"));
        for (var i = 0; i < Held; i++)
            (await dying.Http.PutAsync($"/api/work-items/slow/held-{i}", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
                .EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Active == Held), TimeSpan.FromSeconds(30), "node-a runs the held items");
        await using var survivor = await NodeProcess.StartAsync(Settings(store, recorder, "node-b"));

        var items = Enumerable.Range(0, Backlog).Select(i => new { entityId = $"b-{i:0000}" }).ToList();
        (await survivor.Http.PostAsJsonAsync("/api/work-items", new { dataType = "bulk", items })).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Calls.Count(c => c.DataType == "bulk") >= 100), TimeSpan.FromSeconds(30),
            "both nodes drain the backlog");
        await dying.KillAsync();
        var killedAt = Stopwatch.StartNew();
        var bulkAtKill = recorder.Calls.Count(c => c.DataType == "bulk");

        await Eventually.TrueAsync(
            () => Task.FromResult(Enumerable.Range(0, Held).All(i => recorder.CallsOf("slow", $"held-{i}").Count == 2)),
            TimeSpan.FromSeconds(120), "every held item runs again on the surviving node");
        var recoveredAfter = killedAt.Elapsed;

        var calls = recorder.Calls;
        var firstBulkStart = calls.Where(c => c.DataType == "bulk").GroupBy(c => c.EntityId).ToDictionary(g => g.Key, g => g.Min(c => c.Sequence));
        var restarts = Enumerable.Range(0, Held).Select(i => recorder.CallsOf("slow", $"held-{i}")[1]).ToList();
        var lastRestart = restarts.Max(c => c.Sequence);
        // Never-run items not started before the last recovered run started: left of the backlog then.
        var waitingBehind = Backlog - firstBulkStart.Values.Count(s => s < lastRestart);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{bulkAtKill} of {Backlog} backlog items had started when node-a was killed; its {Held} held items were all running again " +
            $"{recoveredAfter.TotalSeconds:0.0} s after the kill, with {waitingBehind} backlog items not yet started behind them"));
        Assert.True(waitingBehind > 0, "the recovered runs waited for the whole never-run backlog to drain");
        Assert.Equal(1, recorder.MaxConcurrentPerEntity);
    }
}

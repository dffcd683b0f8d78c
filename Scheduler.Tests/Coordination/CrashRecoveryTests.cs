using System.Diagnostics;
using System.Net.Http.Json;
using BatchScheduler.Executors.Contract;
using BatchScheduler.QuartzTables;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// A node killed with SIGKILL mid-execution: its item shows in_flight (updates_start newer than
/// updates_end) until Quartz recovers it, and then it runs again to completion.
/// </summary>
public abstract class CrashRecoveryTests(StorageProvider provider, ITestOutputHelper output)
{
    private static Dictionary<string, string?> Settings(TestStore store) => new()
    {
        ["Storage:Provider"] = store.Provider.ToString(),
        ["Storage:ConnectionString"] = store.ConnectionString,
        ["Cluster:CheckinInterval"] = "00:00:01",
        // What an operator runs: ids derived by the node (stable per host on SQLite, unique per process in a cluster).
        ["Cluster:NodeId"] = "auto",
        ["Demo:SeedItems"] = "false",
        ["Serilog:MinimumLevel:Default"] = "Warning",
        // In the killed node the item hangs for a minute; in the surviving node it completes at once.
        ["DataTypes:slow:Executor"] = "demo",
        ["DataTypes:slow:Demo:Duration"] = "00:01:00",
    };

    [Fact]
    public async Task Kill_NodeMidExecution_ItemShowsInFlightThenIsRecoveredAndCompleted()
    {
        await using var store = await TestStore.CreateAsync(provider);
        var recording = new RecordingExecutor();
        var settings = Settings(store);

        // On PostgreSQL a second node joins while the item runs and takes over (it joins only then:
        // a worker already running would be woken by the registration and could take the item
        // first); on SQLite (one node) recovery happens when the node starts again.
        TestNode? survivor = null;
        await using var crashing = await NodeProcess.StartAsync(settings);
        try
        {
            (await crashing.Http.PutAsync("/api/work-items/slow/crash-1",
                new StringContent("{}", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
            // Read through the crashing node itself: on SQLite no second node may open the file while it runs.
            var inFlight = await WaitForStateAsync(crashing.Http, "slow", "crash-1", WorkItemStates.InFlight);
            Assert.Equal(0, recording.CallsFor("crash-1")); // the killed node has it, not the survivor
            if (provider == StorageProvider.Postgres)
                survivor = await StartSurvivorAsync(store, settings, recording);

            if (provider == StorageProvider.Postgres)
            {
                // The firing being recovered is one a set-based round made (Cluster:SetBasedFiring, on by default).
                await using var connection = new Npgsql.NpgsqlConnection(store.ConnectionString);
                await connection.OpenAsync();
                await using var entry = new Npgsql.NpgsqlCommand("SELECT entry_id FROM qrtz_fired_triggers WHERE trigger_name = 'crash-1'", connection);
                Assert.Contains(BatchScheduler.QuartzTables.SetFiringRounds.EntryMarker, (string)(await entry.ExecuteScalarAsync())!, StringComparison.Ordinal);
            }
            await crashing.KillAsync();
            var killedAt = Stopwatch.StartNew();

            survivor ??= await StartSurvivorAsync(store, settings, recording);
            var stuck = await survivor.ItemAsync("slow", "crash-1");
            Assert.True(stuck!.State is WorkItemStates.InFlight or WorkItemStates.Completed);
            Assert.Equal(inFlight.UpdatesStart, stuck.UpdatesStart ?? inFlight.UpdatesStart);

            var done = await survivor.WaitForStateAsync("slow", "crash-1", WorkItemStates.Completed, TimeSpan.FromSeconds(60));
            output.WriteLine($"{provider}: recovered and completed {killedAt.Elapsed.TotalSeconds:0.0} s after SIGKILL (check-in interval 1 s)");
            Assert.Equal(1, recording.CallsFor("crash-1"));
            Assert.True(done.UpdatesEnd >= done.UpdatesStart);
        }
        finally
        {
            if (survivor is not null)
                await survivor.DisposeAsync();
        }
    }

    private static async Task<WorkItem> WaitForStateAsync(HttpClient node, string dataType, string entityId, string state)
    {
        WorkItem? item = null;
        await Eventually.TrueAsync(async () =>
        {
            item = await node.GetFromJsonAsync<WorkItem>($"/api/work-items/{dataType}/{entityId}");
            return item?.State == state;
        }, TimeSpan.FromSeconds(30), $"{dataType}/{entityId} should reach state {state}");
        return item!;
    }

    private static Task<TestNode> StartSurvivorAsync(TestStore store, Dictionary<string, string?> settings, IWorkItemExecutor executor)
    {
        var own = new Dictionary<string, string?>(settings)
        {
            ["DataTypes:slow:Executor"] = "recording",
        };
        own.Remove("DataTypes:slow:Demo:Duration");
        return TestNode.StartAsync(store.Provider, store.ConnectionString, own, s => s.AddExecutor("recording", executor));
    }
}

[Trait("Provider", "Sqlite")]
public sealed class SqliteCrashRecoveryTests(ITestOutputHelper output) : CrashRecoveryTests(StorageProvider.Sqlite, output);

[Trait("Provider", "Postgres")]
public sealed class PostgresCrashRecoveryTests(ITestOutputHelper output) : CrashRecoveryTests(StorageProvider.Postgres, output);

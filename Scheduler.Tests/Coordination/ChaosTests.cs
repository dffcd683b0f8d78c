using System.Diagnostics;
using System.Net.Http.Json;
using BatchScheduler.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// The cluster under chaos, bounded to a few minutes: three node processes on a real (private)
/// PostgreSQL execute thousands of items through the <c>http</c> executor against an outside
/// recorder, while nodes are killed with SIGKILL and restarted and PostgreSQL restarts once.
/// Every item must complete, and no entity may ever be executed twice at the same moment.
/// </summary>
[Trait("Provider", "Postgres")]
[Collection(MeasurementCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const int Items = 3000;
    private const int Nodes = 3;

    private static Dictionary<string, string?> Settings(PrivatePostgres pg, HttpRecorder recorder) => new()
    {
        ["Storage:Provider"] = "Postgres",
        ["Storage:ConnectionString"] = pg.ConnectionString,
        ["Cluster:CheckinInterval"] = "00:00:02",
        ["Cluster:RepairInterval"] = "00:00:05",
        ["Cluster:MaxConcurrency"] = "8",
        ["Demo:SeedItems"] = "false",
        ["Serilog:MinimumLevel:Default"] = "Warning",
        ["DataTypes:chaos:Executor"] = "http",
        ["DataTypes:chaos:Http:Url"] = new Uri(recorder.BaseAddress, "work/{entityId}").ToString().Replace("%7B", "{").Replace("%7D", "}"),
        ["DataTypes:chaos:Http:Timeout"] = "00:00:10",
        ["DataTypes:chaos:Retry:MaxRetryAttempts"] = "20",
        ["DataTypes:chaos:Retry:Delay"] = "00:00:01",
        ["DataTypes:chaos:Retry:MaxDelay"] = "00:00:05",
    };

    [Fact]
    public async Task Cluster_NodesKilledAndDatabaseRestarted_EveryItemCompletesWithoutOverlap()
    {
        var clock = Stopwatch.StartNew();
        await using var pg = await PrivatePostgres.StartAsync();
        await using var recorder = await HttpRecorder.StartAsync(TimeSpan.FromMilliseconds(20));
        var settings = Settings(pg, recorder);
        var nodes = new NodeProcess[Nodes];
        nodes[0] = await NodeProcess.StartAsync(settings); // the first node creates the schema
        var others = await Task.WhenAll(Enumerable.Range(1, Nodes - 1).Select(_ => NodeProcess.StartAsync(settings)));
        others.CopyTo(nodes, 1);
        var events = new List<string>();
        void Note(string what) => events.Add($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what} (recorder calls: {recorder.TotalCalls})");
        try
        {
            Note("cluster up");
            foreach (var chunk in Enumerable.Range(0, Items).Chunk(1000))
            {
                var body = new { dataType = "chaos", items = chunk.Select(i => new { entityId = $"c-{i:0000}" }) };
                (await nodes[0].Http.PostAsJsonAsync("/api/work-items", body)).EnsureSuccessStatusCode();
            }
            Note($"{Items} items registered");

            await CallsReachAsync(recorder, Items / 5);
            await nodes[1].KillAsync();
            Note("node 2 killed (SIGKILL)");
            await CallsReachAsync(recorder, 2 * Items / 5);
            nodes[1] = await NodeProcess.StartAsync(settings);
            Note("node 2 restarted");
            await CallsReachAsync(recorder, 3 * Items / 5);
            await pg.RestartAsync();
            Note("PostgreSQL restarted");
            await CallsReachAsync(recorder, 4 * Items / 5);
            await nodes[2].KillAsync();
            Note("node 3 killed (SIGKILL)");
            nodes[2] = await NodeProcess.StartAsync(settings);
            Note("node 3 restarted");

            await Eventually.TrueAsync(async () => await CompletedAsync(pg) == Items, TimeSpan.FromMinutes(2.5),
                $"all {Items} items should complete; states now: {await StatesAsync(pg)}");
            Note("all items completed");
        }
        finally
        {
            foreach (var line in events)
                output.WriteLine(line);
            foreach (var node in nodes)
                await node.DisposeAsync();
        }

        var entities = recorder.Entities;
        Assert.Equal(Items, entities.Count);
        var overlapping = entities.Where(e => e.Value.MaxConcurrent > 1).Select(e => e.Key).ToList();
        Assert.True(overlapping.Count == 0, $"entities executed twice at once: {string.Join(", ", overlapping.Take(20))}");
        // Kills and the restart cut writes off mid-round: still no trigger without its rows, or rows without it.
        await QuartzRows.AssertConsistentAsync(pg.ConnectionString);
        var reRuns = entities.Values.Sum(e => e.Calls - 1);
        output.WriteLine($"{Items} items on {Nodes} nodes in {clock.Elapsed.TotalSeconds:0.0} s: {recorder.TotalCalls} executions, " +
                         $"{reRuns} re-runs on {entities.Count(e => e.Value.Calls > 1)} entities (work in flight on killed nodes or " +
                         "whose final write the database restart cut off), 0 overlaps");
    }

    private static Task CallsReachAsync(HttpRecorder recorder, int calls) =>
        Eventually.TrueAsync(() => Task.FromResult(recorder.TotalCalls >= calls), TimeSpan.FromMinutes(2), $"the recorder should see {calls} calls");

    private static async Task<long> CompletedAsync(PrivatePostgres pg)
    {
        try
        {
            await using var connection = new NpgsqlConnection(pg.ConnectionString + ";Pooling=false");
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM work_items WHERE state = 'completed'", connection);
            return (long)(await count.ExecuteScalarAsync())!;
        }
        catch (NpgsqlException)
        {
            return -1; // the server is restarting
        }
    }

    private static async Task<string> StatesAsync(PrivatePostgres pg)
    {
        try
        {
            await using var connection = new NpgsqlConnection(pg.ConnectionString + ";Pooling=false");
            await connection.OpenAsync();
            await using var states = new NpgsqlCommand("SELECT string_agg(state || '=' || n, ', ') FROM (SELECT state, COUNT(*) n FROM work_items GROUP BY state) s", connection);
            return (string?)await states.ExecuteScalarAsync() ?? "none";
        }
        catch (NpgsqlException ex)
        {
            return $"unknown ({ex.Message})";
        }
    }
}

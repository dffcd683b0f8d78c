using System.Diagnostics;
using System.Net.Http.Json;
using BatchScheduler.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace BatchScheduler.Bench;

/// <summary>This project, measured through its own API and its own tables (full bookkeeping).</summary>
public static class BatchSchedulerScenarios
{
    private const string System = "batchscheduler";
    private const string DataType = "bench";
    private const int ChunkSize = 10_000; // the API's per-request maximum

    public static async Task<IReadOnlyList<BenchResult>> RunAsync(string scenario, BenchOptions options) => scenario switch
    {
        "register" => await RegisterAsync(options),
        "drain" => await DrainAsync(options),
        _ => throw new ArgumentException($"unknown scenario '{scenario}'"),
    };

    private static async Task<IReadOnlyList<BenchResult>> RegisterAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_reg");
        var seconds = await RegisterThroughApiAsync(db, options.Items);
        return [new BenchResult(System, "API node, bulk POST", "register", options.Items / seconds, "items/s",
            $"{options.Items} items, POST /api/work-items in chunks of {ChunkSize:N0}, row upsert + Quartz trigger per item")];
    }

    private static async Task<IReadOnlyList<BenchResult>> DrainAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_drain");
        await RegisterThroughApiAsync(db, options.Items);
        var before = await db.CountersAsync();

        var nodes = new List<WebApplication>();
        try
        {
            for (var i = 0; i < options.Nodes; i++)
                nodes.Add(await StartNodeAsync(db, "worker", $"bench-worker-{i}"));
            var clock = Stopwatch.StartNew();
            while (await CountAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'completed'") < options.Items)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(10))
                    throw new TimeoutException($"not all {options.Items} items completed within 10 minutes");
                await Task.Delay(250);
            }
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.StopAsync();
                await node.DisposeAsync();
            }
        }
        var after = await db.CountersAsync();
        var rate = await RateBetween10And90Async(db, options.Items);
        var variant = $"{options.Nodes} node(s)";
        return
        [
            new BenchResult(System, variant, "drain", rate, "executions/s",
                $"{options.Items} due no-op items, 32 threads per node, in one process; full bookkeeping; 10–90% of updates_end"),
            new BenchResult(System, variant, "statements/execution", (after.Statements - before.Statements) / (double)options.Items, "statements", "pg_stat_statements, node start/stop included"),
            new BenchResult(System, variant, "commits/execution", (after.Commits - before.Commits) / (double)options.Items, "commits", "pg_stat_database, node start/stop included"),
        ];
    }

    private static async Task<double> RegisterThroughApiAsync(BenchDatabase db, int items)
    {
        await using var api = await StartNodeAsync(db, "api", "bench-api");
        using var http = new HttpClient { BaseAddress = Address(api), Timeout = TimeSpan.FromMinutes(10) };
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < items; start += ChunkSize)
        {
            var body = new
            {
                dataType = DataType,
                items = Enumerable.Range(start, Math.Min(ChunkSize, items - start)).Select(i => new { entityId = $"e-{i:0000000}" }),
            };
            using var response = await http.PostAsJsonAsync("/api/work-items", body);
            response.EnsureSuccessStatusCode();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"batchscheduler: registered {items} items in {seconds:0.00} s");
        await api.StopAsync();
        return seconds;
    }

    private static async Task<WebApplication> StartNodeAsync(BenchDatabase db, string role, string nodeId)
    {
        var app = NodeHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Storage:Provider"] = "Postgres",
                ["Storage:ConnectionString"] = db.ConnectionString,
                ["Cluster:Role"] = role,
                ["Cluster:NodeId"] = nodeId,
                ["Cluster:MaxConcurrency"] = "32",
                ["Demo:SeedItems"] = "false",
                ["Serilog:MinimumLevel:Default"] = "Warning",
                [$"DataTypes:{DataType}:Executor"] = "noop",
            });
        });
        await app.StartAsync();
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    private static async Task<long> CountAsync(BenchDatabase db, string sql)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Completions per second between the 10th and the 90th percentile of completion times.</summary>
    private static async Task<double> RateBetween10And90Async(BenchDatabase db, int items)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT percentile_disc(0.1) WITHIN GROUP (ORDER BY updates_end), percentile_disc(0.9) WITHIN GROUP (ORDER BY updates_end)
            FROM work_items WHERE state = 'completed'
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var span = reader.GetFieldValue<DateTimeOffset>(1) - reader.GetFieldValue<DateTimeOffset>(0);
        return 0.8 * items / span.TotalSeconds;
    }
}

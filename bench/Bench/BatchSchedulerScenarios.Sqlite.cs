using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;

namespace BatchScheduler.Bench;

/// <summary>
/// The embedded default: one node on a SQLite file of its own (in a temporary folder, deleted afterwards),
/// as <c>dotnet run --project Scheduler</c> runs it. No PostgreSQL is needed.
/// </summary>
public static partial class BatchSchedulerScenarios
{
    /// <summary>Registration through the API into an empty SQLite file, chunks of 10,000 as on PostgreSQL.</summary>
    private static async Task<IReadOnlyList<BenchResult>> SqliteRegisterAsync(BenchOptions options)
    {
        using var file = new SqliteFile();
        var seconds = await SqliteRegisterThroughApiAsync(file, options.Items, warmUp: true);
        return
        [
            new BenchResult(System, $"SQLite, API node, bulk POST, {options.Items:N0} items", "register", options.Items / seconds, "items/s",
                $"{options.Items:N0} items into an empty SQLite file after an untimed warm-up of 100, POST /api/work-items in chunks of {ChunkSize:N0}, one poster; " +
                "each request writes the rows and Quartz's trigger rows in one transaction"),
        ];
    }

    /// <summary>The drain of --items due no-op items by one worker node on SQLite (registered first by an API node, untimed).</summary>
    private static async Task<IReadOnlyList<BenchResult>> SqliteDrainAsync(BenchOptions options)
    {
        using var file = new SqliteFile();
        await SqliteRegisterThroughApiAsync(file, options.Items, warmUp: false);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        await using (var worker = new StoppingNode(await StartNodeAsync("Sqlite", file.ConnectionString, "worker", "bench-worker")))
        {
            var clock = Stopwatch.StartNew();
            while (await file.CountAsync($"SELECT COUNT(*) FROM work_items WHERE data_type = '{DataType}' AND state = 'completed'") < options.Items)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(10))
                    throw new TimeoutException($"not all {options.Items} items completed within 10 minutes");
                await Task.Delay(250); // polling the outcome, not synchronising
            }
        }
        var cpuPerItem = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds * 1000 / options.Items;
        var ends = await file.EndsAsync();
        var first = ends[(int)(ends.Count * 0.1)];
        var last = ends[(int)(ends.Count * 0.9) - 1];
        var rate = (ends.Count * 0.8) / Math.Max(0.001, (last - first).TotalSeconds);
        return
        [
            new BenchResult(System, "SQLite, 1 node", "drain", rate, "executions/s",
                $"{options.Items:N0} due no-op items, one worker node (MaxConcurrency 32, the default), full bookkeeping; 10–90% of updates_end"),
            new BenchResult(System, "SQLite, 1 node", "CPU/execution", cpuPerItem, "µs",
                "the process's CPU time (user + system) from the worker's start to the last completion, over the items: what a loaded machine cannot blur"),
            new BenchResult(System, "SQLite, 1 node", "peak RSS", PeakRssMegabytes(), "MB", $"VmHWM of the bench process after draining {options.Items:N0} items"),
        ];
    }

    private static async Task<double> SqliteRegisterThroughApiAsync(SqliteFile file, int items, bool warmUp)
    {
        await using var api = new StoppingNode(await StartNodeAsync("Sqlite", file.ConnectionString, "api", "bench-api"));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
        if (warmUp)
            await PostAsync(http, "w", 0, 100);
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var start = 0; start < items; start += ChunkSize)
            await PostAsync(http, "e", start, Math.Min(ChunkSize, items - start));
        var seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"batchscheduler (SQLite): registered {items} items in {seconds:0.00} s, " +
            $"{(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds * 1000 / items:0} µs CPU an item");
        return seconds;
    }

    /// <summary>A SQLite database file in a temporary folder of its own, deleted with it.</summary>
    private sealed class SqliteFile : IDisposable
    {
        private readonly string _folder = Directory.CreateTempSubdirectory("batchscheduler-bench-").FullName;

        public string ConnectionString => $"Data Source={Path.Combine(_folder, "bench.db")}";

        public async Task<long> CountAsync(string sql)
        {
            await using var connection = new SqliteConnection(ConnectionString);
            await connection.OpenAsync();
            await using var command = new SqliteCommand(sql, connection);
            return (long)(await command.ExecuteScalarAsync())!;
        }

        /// <summary>Every completed item's updates_end, in order.</summary>
        public async Task<List<DateTimeOffset>> EndsAsync()
        {
            await using var connection = new SqliteConnection(ConnectionString);
            await connection.OpenAsync();
            await using var command = new SqliteCommand($"SELECT updates_end FROM work_items WHERE data_type = '{DataType}' AND updates_end IS NOT NULL", connection);
            var ends = new List<DateTimeOffset>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                ends.Add(DateTimeOffset.Parse(reader.GetString(0), global::System.Globalization.CultureInfo.InvariantCulture));
            ends.Sort();
            return ends;
        }

        public void Dispose()
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_folder, recursive: true);
        }
    }
}

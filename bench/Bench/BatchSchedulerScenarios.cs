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
public static partial class BatchSchedulerScenarios
{
    private const string System = "batchscheduler";
    private const string DataType = "bench";

    /// <summary>The data type of <c>--limited</c>'s backlog (limited to 2 at once across the cluster).</summary>
    private const string LimitedDataType = "bench-limited";
    private const int ChunkSize = 10_000; // the API's per-request maximum

    public static async Task<IReadOnlyList<BenchResult>> RunAsync(string scenario, BenchOptions options) => scenario switch
    {
        "register" => await RegisterAsync(options),
        "drain" => await DrainAsync(options),
        "scale" => await ScaleAsync(options),
        "due" => await DueToStartAsync(options),
        "failover" => await FailoverAsync(options),
        "credits" => await CreditsAsync(options),
        "cron" => await CronTickAsync(options),
        "bulk" => await BulkActionAsync(options),
        "sqlite-register" => await SqliteRegisterAsync(options),
        "sqlite-drain" => await SqliteDrainAsync(options),
        "seed" => await SeedAsync(options),
        "io" => await IoBoundAsync(options),
        _ => throw new ArgumentException($"unknown scenario '{scenario}'"),
    };

    private static async Task<IReadOnlyList<BenchResult>> RegisterAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_reg");
        var seconds = await RegisterThroughApiAsync(db, options.Items, options.Posters);
        return [RegisterResult(options.Items, seconds, Posters(options.Posters))];
    }

    private static string Posters(int posters) =>
        posters <= 1 ? "one poster, sequential requests" : $"{posters} concurrent posters";

    private static BenchResult RegisterResult(int items, double seconds, string how) =>
        new(System, $"API node, bulk POST, {items:N0} items", "register", items / seconds, "items/s",
            $"{items:N0} items into an empty database after an untimed warm-up of 100, POST /api/work-items in chunks of {ChunkSize:N0}; {how}. On PostgreSQL each " +
            "request is one transaction: upsert of the rows and Quartz's own trigger rows for new items (unnest arrays)");

    /// <summary>
    /// 1,000,000 items (or --items) registered, then, with all of them stored, the latency of the health
    /// and listing API and the process's peak RSS.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> ScaleAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_scale");
        var seconds = await RegisterThroughApiAsync(db, options.Items, options.Posters);
        var results = new List<BenchResult> { RegisterResult(options.Items, seconds, $"{Posters(options.Posters)}, {seconds:0.0} s in all") };
        await db.ExecuteAsync("VACUUM ANALYZE");

        await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api"));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(2) };
        var middle = $"e-{options.Items / 2:0000000}";
        var routes = new (string Name, string Path)[]
        {
            ("GET /api/health", "/api/health"),
            ("GET /api/work-items (page 1 of one data type)", $"/api/work-items?dataType={DataType}&pageSize=100"),
            ("GET /api/work-items (state filter)", $"/api/work-items?dataType={DataType}&state=never_run&pageSize=100"),
            ("GET /api/work-items/{dataType}/{entityId}", $"/api/work-items/{DataType}/{middle}"),
            ("GET /api/nodes", "/api/nodes"),
        };
        foreach (var (name, path) in routes)
        {
            using (var warm = await http.GetAsync(path))
                warm.EnsureSuccessStatusCode();
            var timings = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                var clock = Stopwatch.StartNew();
                using var response = await http.GetAsync(path);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
                timings.Add(clock.Elapsed.TotalMilliseconds);
            }
            timings.Sort();
            results.Add(new BenchResult(System, name, "API latency p50", timings[timings.Count / 2], "ms",
                $"{options.Items:N0} items stored, 20 sequential calls after one warm-up; p95 {timings[(int)(timings.Count * 0.95) - 1]:0} ms"));
        }
        // What /api/health's answers no longer wait for on a large store: the count its background refresh makes.
        var counts = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            await CountAsync(db, "SELECT COUNT(*) FROM (SELECT data_type, state, tier, COUNT(*) AS n FROM work_items GROUP BY data_type, state, tier) c");
            counts.Add(clock.Elapsed.TotalMilliseconds);
        }
        counts.Sort();
        results.Add(new BenchResult(System, "health summary's item count (refreshed in the background)", "query p50", counts[counts.Count / 2], "ms",
            $"{options.Items:N0} items stored, 5 runs of the count by data type, state and tier; /api/health answers the last count while it is younger than 20 times this (5-60 s)"));
        // A real worker process (Scheduler.dll) on the same database: 30 s into draining the stored
        // backlog (due now), its peak RSS.
        using (var worker = await ChildNode.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["Storage:ConnectionString"] = db.ConnectionString,
            ["Cluster:NodeId"] = "rss-worker",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            [$"DataTypes:{DataType}:Executor"] = "noop",
        }))
        {
            var window = Stopwatch.StartNew();
            while (window.Elapsed < TimeSpan.FromSeconds(30))
                await Task.Delay(1000); // a measurement window, not a wait for a condition
            var done = await CountAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'completed'");
            results.Add(new BenchResult(System, "worker node process (Scheduler.dll)", "peak RSS", worker.PeakRssMegabytes(), "MB",
                $"VmHWM of a standalone worker 30 s into draining the {options.Items:N0} stored items ({done:N0} done by then), MaxConcurrency 128 (the default)"));
        }
        results.Add(new BenchResult(System, "API node + harness, one process", "peak RSS", PeakRssMegabytes(), "MB",
            $"VmHWM of the bench process after registering {options.Items:N0} items through the node and querying it (the node is in process, so this is an upper bound for the node)"));
        return results;
    }

    /// <summary>
    /// Due-to-start delay at a steady rate (--rate items/s, half the measured drain rate): an API node
    /// takes items due now in small batches every 100 ms for 20 s while a worker runs them;
    /// delay = updates_start - the item's registration time.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> DueToStartAsync(BenchOptions options)
    {
        var rate = Math.Max(10, options.Rate);
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_due");
        await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api"));
        await using var worker = new StoppingNode(await StartNodeAsync(db, "worker", "bench-worker"));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(1) };
        var perTick = Math.Max(1, rate / 10);
        var ticks = 200; // 20 s
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var next = 0;
        for (var t = 0; t < ticks && await timer.WaitForNextTickAsync(); t++)
        {
            var body = new { dataType = DataType, items = Enumerable.Range(next, perTick).Select(i => new { entityId = $"d-{i:0000000}" }) };
            next += perTick;
            using var response = await http.PostAsJsonAsync("/api/work-items", body);
            response.EnsureSuccessStatusCode();
        }
        var clock = Stopwatch.StartNew();
        while (await CountAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'completed'") < next)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException("due-to-start: items did not all complete within 5 minutes");
            await Task.Delay(250);
        }
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d)
            FROM (SELECT EXTRACT(EPOCH FROM updates_start - created_at) AS d FROM work_items) x
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (p50, p99, max) = (reader.GetDouble(0), reader.GetDouble(1), reader.GetDouble(2));
        var notes = $"{next:N0} items at {perTick * 10}/s for 20 s (half the 1-node drain rate), registered due now on an API node, one worker node (IdleWaitTime 1 s); max {max:0.00} s";
        return
        [
            new BenchResult(System, "p50, half load", "due-to-start", p50, "s", notes),
            new BenchResult(System, "p99, half load", "due-to-start", p99, "s", notes),
        ];
    }

    /// <summary>
    /// Failover after SIGKILL: a real node process (Scheduler.dll) runs 20 items that each take a
    /// minute, a second node (in process) joins, the first is killed, and the figure is how long
    /// after the kill the survivor restarts them (median and max). Once at the default check-in
    /// interval (5 s) and once at 1 s.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> FailoverAsync(BenchOptions options)
    {
        var results = new List<BenchResult>();
        foreach (var checkin in new[] { TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1) })
        {
            await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_failover");
            var settings = new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "Postgres",
                ["Storage:ConnectionString"] = db.ConnectionString,
                ["Storage:MigrateOnStart"] = "true",
                ["Cluster:NodeId"] = "crashing",
                ["Cluster:CheckinInterval"] = checkin.ToString(),
                ["Demo:SeedItems"] = "false",
                ["Serilog:MinimumLevel:Default"] = "Warning",
                ["DataTypes:slow:Executor"] = "demo",
                ["DataTypes:slow:Demo:Duration"] = "00:01:00",
            };
            const int items = 20;
            using var crashing = await ChildNode.StartAsync(settings);
            for (var i = 0; i < items; i++)
            {
                using var response = await crashing.Http.PutAsync($"/api/work-items/slow/f-{i:00}",
                    new StringContent("{}", global::System.Text.Encoding.UTF8, "application/json"));
                response.EnsureSuccessStatusCode();
            }
            await WaitForAsync(db, $"SELECT COUNT(*) FROM work_items WHERE state = 'in_flight'", items, TimeSpan.FromSeconds(60));

            await using var survivor = new StoppingNode(await StartNodeAsync(db, "worker", "survivor", new()
            {
                ["Cluster:CheckinInterval"] = checkin.ToString(),
                ["DataTypes:slow:Executor"] = "noop",
            }));
            crashing.Kill();
            var killedAt = TimeProvider.System.GetUtcNow();
            await WaitForAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'completed'", items, TimeSpan.FromMinutes(2));

            await using var connection = new NpgsqlConnection(db.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), max(d) FROM (SELECT EXTRACT(EPOCH FROM updates_start - @killed) AS d FROM work_items) x",
                connection);
            command.Parameters.AddWithValue("killed", killedAt);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            var (median, max) = (reader.GetDouble(0), reader.GetDouble(1));
            results.Add(new BenchResult(System, $"Cluster:CheckinInterval {checkin.TotalSeconds:0} s", "failover", median, "s",
                $"SIGKILL of a Scheduler.dll process with {items} items in flight -> survivor restarts them: median {median:0.0} s, max {max:0.0} s " +
                $"(Quartz declares a node dead {checkin.TotalSeconds:0} s + 7.5 s after its last check-in)"));
        }
        return results;
    }

    private static async Task WaitForAsync(BenchDatabase db, string countSql, long expected, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (await CountAsync(db, countSql) < expected)
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"'{countSql}' did not reach {expected} within {timeout}");
            await Task.Delay(100);
        }
    }

    /// <summary>The process's peak resident set (VmHWM) in MB.</summary>
    internal static double PeakRssMegabytes()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], global::System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    private static async Task<IReadOnlyList<BenchResult>> DrainAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_drain");
        // Issue 22: a backlog of a limited data type, stalest, beside the drained one (--limited).
        var limited = options.Limited > 0 ? new Dictionary<string, string?>
        {
            // A capped downstream call takes time (--limited-ms); 0: no-op, the worst case (slots free at once, all the time).
            [$"DataTypes:{LimitedDataType}:Executor"] = options.LimitedMs > 0 ? "demo" : "noop",
            [$"DataTypes:{LimitedDataType}:Demo:Duration"] = TimeSpan.FromMilliseconds(options.LimitedMs).ToString("c", global::System.Globalization.CultureInfo.InvariantCulture),
            [$"DataTypes:{LimitedDataType}:MaxConcurrency"] = "2",
        } : null;
        if (limited is not null)
        {
            await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api-limited", limited));
            using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
            for (var start = 0; start < options.Limited; start += ChunkSize)
                await PostAsync(http, "l", start, Math.Min(ChunkSize, options.Limited - start), LimitedDataType);
        }
        await RegisterThroughApiAsync(db, options.Items, warmUp: false);
        var before = await db.CountersAsync();

        var nodes = new List<WebApplication>();
        string settings;
        try
        {
            for (var i = 0; i < options.Nodes; i++)
                nodes.Add(await StartNodeAsync(db, "worker", $"bench-worker-{i}", limited));
            // As the nodes run them, BENCH_ overrides included.
            var cluster = nodes[0].Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BatchScheduler.Configuration.ClusterOptions>>().Value;
            var defaults = new BatchScheduler.Configuration.ClusterOptions();
            settings = $"MaxConcurrency {cluster.MaxConcurrency}{(cluster.MaxConcurrency == defaults.MaxConcurrency ? " (the default)" : "")} per node, " +
                $"set-based firing {(cluster.SetBasedFiring ? "on" : "off")}{(cluster.SetBasedFiring == defaults.SetBasedFiring ? " (the default)" : "")}";
            var clock = Stopwatch.StartNew();
            while (await CountAsync(db, $"SELECT COUNT(*) FROM work_items WHERE data_type = '{DataType}' AND state = 'completed'") < options.Items)
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
        var variant = $"{options.Nodes} node(s)" + (options.Limited > 0 ? $", beside {options.Limited:N0} due items limited to 2 at once ({(options.LimitedMs > 0 ? $"{options.LimitedMs} ms" : "no-op")} each)" : "");
        return
        [
            new BenchResult(System, variant, "drain", rate, "executions/s",
                $"{options.Items} due no-op items, {settings}, in one process; full bookkeeping; 10–90% of updates_end"),
            new BenchResult(System, variant, "statements/execution", (after.Statements - before.Statements) / (double)options.Items, "statements", "pg_stat_statements, node start/stop included"),
            new BenchResult(System, variant, "commits/execution", (after.Commits - before.Commits) / (double)options.Items, "commits", "pg_stat_database, node start/stop included"),
            new BenchResult(System, variant, "peak RSS", PeakRssMegabytes(), "MB",
                $"VmHWM of the bench process: {options.Nodes} worker node(s) in process plus the harness, after draining {options.Items:N0} items"),
        ];
    }

    /// <summary>
    /// Whether vendor credits cost credit-free data types anything: the drain of --items credit-free
    /// items alone, then beside a fifth as many items of a data type that spends a vendor's credits
    /// (200 a second, so it is held back, deferred and re-fired throughout), on one worker with the
    /// same settings both times, after an untimed drain that warms the process up.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> CreditsAsync(BenchOptions options)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Vendors:bench-vendor:Credits"] = "200",
            ["Vendors:bench-vendor:Window"] = "00:00:01",
            ["DataTypes:paid:Executor"] = "noop",
            ["DataTypes:paid:Vendor"] = "bench-vendor",
            ["DataTypes:paid:CreditsPerCall"] = "1",
        };
        var paid = options.Items / 5;
        var results = new List<BenchResult>();
        // The first drain of a process runs colder (JIT) by about a third: an untimed one goes first.
        foreach (var (beside, timed) in new[] { (false, false), (false, true), (true, true) })
        {
            await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_credits");
            await using (var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api", settings)))
            {
                using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
                for (var start = 0; start < options.Items; start += ChunkSize)
                    await PostAsync(http, "e", start, Math.Min(ChunkSize, options.Items - start));
                for (var start = 0; beside && start < paid; start += ChunkSize)
                    await PostAsync(http, "p", start, Math.Min(ChunkSize, paid - start), "paid");
            }
            await using (var worker = new StoppingNode(await StartNodeAsync(db, "worker", "bench-worker", settings)))
            {
                var clock = Stopwatch.StartNew();
                while (await CountAsync(db, $"SELECT COUNT(*) FROM work_items WHERE data_type = '{DataType}' AND state = 'completed'") < options.Items)
                {
                    if (clock.Elapsed > TimeSpan.FromMinutes(10))
                        throw new TimeoutException($"not all {options.Items} credit-free items completed within 10 minutes");
                    await Task.Delay(250);
                }
            }
            if (!timed)
                continue;
            var rate = await RateBetween10And90Async(db, options.Items);
            results.Add(new BenchResult(System, beside ? $"beside {paid:N0} credit-limited items" : "alone", "credit-free drain", rate, "executions/s",
                $"{options.Items:N0} due no-op items without a vendor, 1 worker, MaxConcurrency 128; " + (beside
                    ? $"{paid:N0} items of a data type spending vendor credits (200 per 1 s window) registered due at the same time"
                    : "the same settings, no credit-spending items")));
        }
        return results;
    }

    /// <summary>
    /// A bulk action over --items items (a pause of every item of one data type, then its resume), run through an
    /// API node while one worker drains 20,000 due no-op items of another data type: each action's time, and the
    /// drain's executions/s alone (before) and while the pause runs.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> BulkActionAsync(BenchOptions options)
    {
        const int drained = 20_000;
        const string held = "held", beside = "beside";
        var settings = new Dictionary<string, string?>
        {
            [$"DataTypes:{held}:Executor"] = "noop",
            [$"DataTypes:{beside}:Executor"] = "noop",
        };
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_bulk");
        await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api", settings));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
        // The acted-on items are not due (a day ahead): the action, not their runs, is measured.
        var ahead = TimeProvider.System.GetUtcNow().AddDays(1);
        for (var start = 0; start < options.Items; start += ChunkSize)
            await PostAsync(http, "h", start, Math.Min(ChunkSize, options.Items - start), held, ahead);
        await db.ExecuteAsync("VACUUM ANALYZE");
        await using var worker = new StoppingNode(await StartNodeAsync(db, "worker", "bench-worker", settings));

        // The drain alone.
        for (var start = 0; start < drained; start += ChunkSize)
            await PostAsync(http, "a", start, ChunkSize);
        await WaitForAsync(db, $"SELECT COUNT(*) FROM work_items WHERE data_type = '{DataType}' AND state = 'completed'", drained, TimeSpan.FromMinutes(10));
        var alone = await RateBetween10And90Async(db, drained);

        // The same drain while the pause runs.
        var pause = await StartActionAsync(http, new { action = "pause", filter = new { dataType = held }, reason = "bench" });
        for (var start = 0; start < drained; start += ChunkSize)
            await PostAsync(http, "b", start, ChunkSize, beside);
        await WaitForAsync(db, $"SELECT COUNT(*) FROM work_items WHERE data_type = '{beside}' AND state = 'completed'", drained, TimeSpan.FromMinutes(10));
        var during = await RateBetween10And90Async(db, drained, beside);
        var overlapped = (await ActionAsync(http, pause)).GetProperty("state").GetString() == "running";
        var paused = await FinishActionAsync(http, pause, TimeSpan.FromHours(2));
        var resume = await StartActionAsync(http, new { action = "resume", filter = new { dataType = held, state = "paused" } });
        var resumed = await FinishActionAsync(http, resume, TimeSpan.FromHours(2));

        var notes = $"{options.Items:N0} items of one data type, not due; one API node runs the action (BulkActions defaults: chunks of 200, 20 ms apart, " +
            "each chunk through ItemLifecycle under its rows' locks), one worker node (MaxConcurrency 128) in the same process";
        return
        [
            Timed("pause", paused), Timed("resume", resumed),
            new BenchResult(System, $"{drained:N0} due no-op items, alone", "drain beside a bulk action", alone, "executions/s", "before the action, same nodes"),
            new BenchResult(System, $"{drained:N0} due no-op items, during the pause of {options.Items:N0}", "drain beside a bulk action", during, "executions/s",
                $"{(overlapped ? "the pause ran throughout the drain" : "the pause ended before the drain did")}; {during / alone:0.00}x the drain alone"),
        ];

        BenchResult Timed(string action, (double Seconds, long Applied) result) =>
            new(System, $"bulk {action} of {options.Items:N0} items", "bulk action", result.Seconds, "s",
                $"{notes}; applied {result.Applied:N0}, {result.Applied / result.Seconds:N0} items/s");
    }

    private static async Task<string> StartActionAsync(HttpClient http, object body)
    {
        using var response = await http.PostAsJsonAsync("/api/work-items/actions", body);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<global::System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;
    }

    private static async Task<global::System.Text.Json.JsonElement> ActionAsync(HttpClient http, string id) =>
        await http.GetFromJsonAsync<global::System.Text.Json.JsonElement>($"/api/work-items/actions/{id}");

    /// <summary>Polls the action until it ends; its seconds (started to finished, as it recorded them) and applied count.</summary>
    private static async Task<(double Seconds, long Applied)> FinishActionAsync(HttpClient http, string id, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var action = await ActionAsync(http, id);
            if (action.GetProperty("state").GetString() != "running")
            {
                if (action.GetProperty("state").GetString() != "done")
                    throw new InvalidOperationException($"bulk action {id} ended {action}");
                var seconds = (action.GetProperty("finishedAt").GetDateTimeOffset() - action.GetProperty("startedAt").GetDateTimeOffset()).TotalSeconds;
                Console.Error.WriteLine($"batchscheduler: bulk {action.GetProperty("action").GetString()} {action.GetProperty("applied").GetInt64()} items in {seconds:0.0} s");
                return (seconds, action.GetProperty("applied").GetInt64());
            }
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"bulk action {id} did not end within {timeout}: {action}");
            await Task.Delay(1000);
        }
    }

    /// <summary>Registers <paramref name="items"/> items through an API node's bulk POST, one request after another (after an untimed 100 when <paramref name="warmUp"/>); returns the seconds.</summary>
    /// <summary>
    /// One cron tick for many items: --items items of one data type whose cadence is a cron expression in
    /// Europe/Berlin, registered through an API node before the tick, all due on it; a worker node
    /// (started before the tick) runs them. Start-to-finish = last updates_end - tick; due-to-start =
    /// updates_start - tick. BENCH_Cluster__SetBasedFiring=false measures Quartz's own firing path instead.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> CronTickAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_cron");
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        // The tick: far enough ahead for the registration (about 40,000 items/s) and the worker's start.
        var tick = TimeProvider.System.GetUtcNow().AddSeconds(20 + options.Items / 10_000.0 * 2);
        tick = new DateTimeOffset(tick.Year, tick.Month, tick.Day, tick.Hour, tick.Minute, tick.Second, TimeSpan.Zero);
        var local = TimeZoneInfo.ConvertTime(tick, berlin);
        var settings = new Dictionary<string, string?>
        {
            [$"DataTypes:{DataType}:Cadence:daily"] = $"cron:{local.Second} {local.Minute} {local.Hour} * * ?",
            [$"DataTypes:{DataType}:TimeZone"] = "Europe/Berlin",
        };
        await using (var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api", settings)))
        {
            using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
            for (var start = 0; start < options.Items; start += ChunkSize)
                await PostAsync(http, "c", start, Math.Min(ChunkSize, options.Items - start));
        }
        if (TimeProvider.System.GetUtcNow() > tick - TimeSpan.FromSeconds(3))
            throw new InvalidOperationException("registration ran past the tick; the figures would not be one tick's");
        await using var worker = new StoppingNode(await StartNodeAsync(db, "worker", "bench-worker", settings));
        var cluster = worker.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BatchScheduler.Configuration.ClusterOptions>>().Value;
        await WaitForAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'completed'", options.Items, TimeSpan.FromMinutes(20));
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d),
                   EXTRACT(EPOCH FROM max(updates_end) - @tick), EXTRACT(EPOCH FROM min(updates_start) - @tick)
            FROM (SELECT EXTRACT(EPOCH FROM updates_start - @tick) AS d, updates_start, updates_end FROM work_items) x
            """, connection);
        command.Parameters.AddWithValue("tick", tick);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (p50, p99, finish, first) = (reader.GetDouble(0), reader.GetDouble(1), Convert.ToDouble(reader.GetValue(2)), Convert.ToDouble(reader.GetValue(3)));
        var notes = $"{options.Items:N0} never-run items of one data type with cadence 'cron:{local.Second} {local.Minute} {local.Hour} * * ?' in Europe/Berlin, " +
            $"registered through an API node before the tick, one worker node (MaxConcurrency {cluster.MaxConcurrency}, set-based firing {(cluster.SetBasedFiring ? "on" : "off")}); " +
            $"first start {first:0.00} s after the tick, due-to-start p50 {p50:0.00} s";
        var variant = $"{options.Items:N0} items on one cron tick, set-based firing {(cluster.SetBasedFiring ? "on" : "off")}";
        return
        [
            new BenchResult(System, variant, "cron tick start-to-finish", finish, "s", notes),
            new BenchResult(System, variant, "cron tick due-to-start p99", p99, "s", notes),
            new BenchResult(System, variant, "cron tick executions/s", options.Items / finish, "executions/s", notes),
        ];
    }

    private static async Task<double> RegisterThroughApiAsync(BenchDatabase db, int items, int posters = 1, bool warmUp = true)
    {
        await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api"));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
        // Untimed warm-up, as plain Quartz gets: it also leaves the node's connections with plans made
        // while the tables were tiny, the case that once cost a 6x slower first large request.
        if (warmUp)
            await PostAsync(http, "w", 0, 100);
        var clock = Stopwatch.StartNew();
        var next = -ChunkSize;
        var slowest = TimeSpan.Zero;
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, posters)).Select(async _ =>
        {
            // Each poster takes the next unclaimed chunk until none is left.
            for (var start = Interlocked.Add(ref next, ChunkSize); start < items; start = Interlocked.Add(ref next, ChunkSize))
            {
                var request = Stopwatch.StartNew();
                await PostAsync(http, "e", start, Math.Min(ChunkSize, items - start));
                lock (http)
                    slowest = request.Elapsed > slowest ? request.Elapsed : slowest;
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"batchscheduler: registered {items} items in {seconds:0.00} s ({Math.Max(1, posters)} poster(s), slowest request {slowest.TotalSeconds:0.00} s)");
        return seconds;
    }

    private static async Task PostAsync(HttpClient http, string prefix, int start, int count, string dataType = DataType, DateTimeOffset? runAt = null)
    {
        var body = new
        {
            dataType,
            items = Enumerable.Range(start, count).Select(i => new { entityId = $"{prefix}-{i:0000000}", runAt = runAt?.ToString("O") }),
        };
        using var response = await http.PostAsJsonAsync("/api/work-items", body);
        response.EnsureSuccessStatusCode();
    }

    private static Task<WebApplication> StartNodeAsync(BenchDatabase db, string role, string nodeId, Dictionary<string, string?>? extra = null) =>
        StartNodeAsync("Postgres", db.ConnectionString, role, nodeId, extra);

    private static async Task<WebApplication> StartNodeAsync(string provider, string connectionString, string role, string nodeId, Dictionary<string, string?>? extra = null)
    {
        var app = NodeHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            var settings = new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Storage:Provider"] = provider,
                ["Storage:ConnectionString"] = connectionString,
                ["Cluster:Role"] = role,
                ["Cluster:NodeId"] = nodeId,
                ["Demo:SeedItems"] = "false",
                ["Serilog:MinimumLevel:Default"] = "Warning",
                [$"DataTypes:{DataType}:Executor"] = "noop",
            };
            foreach (var (key, value) in extra ?? [])
                settings[key] = value;
            builder.Configuration.AddInMemoryCollection(settings);
            // For diagnosis: BENCH_Serilog__MinimumLevel__Override__Quartz=Debug and the like.
            builder.Configuration.AddEnvironmentVariables("BENCH_");
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>A node that is stopped (graceful shutdown, as in production) before it is disposed.</summary>
    private sealed class StoppingNode(WebApplication app) : IAsyncDisposable
    {
        public WebApplication App { get; } = app;

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    private static async Task<long> CountAsync(BenchDatabase db, string sql)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Completions per second between the 10th and the 90th percentile of completion times.</summary>
    private static async Task<double> RateBetween10And90Async(BenchDatabase db, int items, string dataType = DataType)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT percentile_disc(0.1) WITHIN GROUP (ORDER BY updates_end), percentile_disc(0.9) WITHIN GROUP (ORDER BY updates_end)
            FROM work_items WHERE state = 'completed' AND data_type = @dataType
            """, connection);
        command.Parameters.AddWithValue("dataType", dataType);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var span = reader.GetFieldValue<DateTimeOffset>(1) - reader.GetFieldValue<DateTimeOffset>(0);
        return 0.8 * items / span.TotalSeconds;
    }
}

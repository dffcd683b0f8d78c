using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Npgsql;

namespace BatchScheduler.Bench;

/// <summary>
/// The smallbox seed (issue 24): 35 data types over 87,878 entities (<c>--items</c> sets the entity
/// count; tiers scale with it), every data type with tiers first (1,409 entities, every 15 min), second
/// (4,889, hourly), third (8,051, daily) and exclude (73,529, never): about 3.08 million items and
/// ~106 executions/s at steady state. Two chains of three data types (<c>DependsOn</c>) and four data
/// types on one vendor at 800 credits a minute. Measured with 1 and then 2 worker processes
/// (<c>Scheduler.dll</c>) on one PostgreSQL: registration, database size per item, <c>--minutes</c>
/// (default 10) of steady recurring load with due-to-start p50/p99, then catch-up after an hour of
/// downtime; the API and every dashboard view (headless chromium) are timed throughout.
/// </summary>
public static partial class BatchSchedulerScenarios
{
    private const int SeedFullEntities = 87_878;
    private const string SeedVendor = "seed-vendor";
    private const string SeedBatchType = "seed-batch";
    private const string SeedProbeType = "series-01";

    private static readonly SeedTier[] SeedTiers =
    [
        new("first", 1_409, TimeSpan.FromMinutes(15)),
        new("second", 4_889, TimeSpan.FromHours(1)),
        new("third", 8_051, TimeSpan.FromDays(1)),
        new("exclude", 73_529, null),
    ];

    private static readonly string[] SeedVendorTypes = ["quotes", "news", "ratings", "estimates"];

    /// <summary>Two chains: prices → observations → interpretations and filings → facts → scores.</summary>
    private static readonly (string DataType, string Upstream)[] SeedDependents =
        [("observations", "prices"), ("interpretations", "observations"), ("facts", "filings"), ("scores", "facts")];

    private static readonly string[] SeedDataTypes =
        ["prices", "observations", "interpretations", "filings", "facts", "scores", .. SeedVendorTypes, .. Enumerable.Range(1, 25).Select(i => $"series-{i:00}")];

    private sealed record SeedTier(string Name, int Entities, TimeSpan? Cadence);

    private static async Task<IReadOnlyList<BenchResult>> SeedAsync(BenchOptions options)
    {
        var entities = options.Items > 0 ? options.Items : SeedFullEntities;
        var tiers = ScaledTiers(entities);
        var items = (long)entities * SeedDataTypes.Length;
        var scale = $"{SeedDataTypes.Length} data types × {entities:N0} entities = {items:N0} items (tiers {string.Join(" / ", tiers.Select(t => $"{t.Name} {t.Entities:N0}"))})";
        Console.Error.WriteLine($"batchscheduler seed: {scale}");
        var settings = SeedSettings();
        var results = new List<BenchResult>();
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_seed");
        await using var api = new StoppingNode(await StartNodeAsync(db, "api", "bench-api", settings));
        using var http = new HttpClient { BaseAddress = Address(api.App), Timeout = TimeSpan.FromMinutes(10) };
        var batchId = await SubmitSeedBatchAsync(http);
        await using var probe = await SeedProbe.StartAsync(http, batchId);

        probe.Phase = "seed, registration";
        var seconds = await SeedRegisterAsync(http, entities, tiers, Math.Max(2, options.Posters));
        probe.Phase = null;
        results.Add(new BenchResult(System, "seed", "seed registration", items / seconds, "items/s",
            $"{scale} through POST /api/work-items in chunks of {ChunkSize:N0} from {Math.Max(2, options.Posters)} posters, an API node; {seconds:0} s in all"));
        await db.ExecuteAsync("VACUUM ANALYZE");
        results.Add(await SeedSizeAsync(db, items));

        foreach (var workers in new[] { 1, 2 })
        {
            var variant = $"seed: {workers} worker{(workers == 1 ? "" : "s")}";
            await RephaseAsync(db);
            results.AddRange(await SeedSteadyAsync(db, settings, workers, TimeSpan.FromMinutes(options.Minutes), probe, variant));
            results.AddRange(await SeedCatchUpAsync(db, settings, workers, probe, variant));
        }
        results.AddRange(probe.Results());
        foreach (var error in probe.Errors())
            Console.Error.WriteLine($"batchscheduler seed: failed sample: {error}");
        results.Add(new BenchResult(System, "seed", "seed API node peak RSS", PeakRssMegabytes(), "MB",
            "VmHWM of the bench process (the API node is in process, with the harness and the chromium driver): an upper bound for an API node"));
        Console.Error.WriteLine(SeedTable(results));
        return results;
    }

    private static SeedTier[] ScaledTiers(int entities)
    {
        var running = SeedTiers.Where(t => t.Cadence is not null)
            .Select(t => t with { Entities = (int)Math.Round((double)t.Entities * entities / SeedFullEntities) }).ToList();
        return [.. running, SeedTiers[^1] with { Entities = entities - running.Sum(t => t.Entities) }];
    }

    private static Dictionary<string, string?> SeedSettings()
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Vendors:{SeedVendor}:Credits"] = "800",
            [$"DataTypes:{SeedBatchType}:Executor"] = "noop",
        };
        foreach (var dataType in SeedDataTypes)
        {
            settings[$"DataTypes:{dataType}:Executor"] = "noop";
            foreach (var tier in SeedTiers.Where(t => t.Cadence is not null))
                settings[$"DataTypes:{dataType}:Cadence:{tier.Name}"] = tier.Cadence!.Value.ToString("c", CultureInfo.InvariantCulture);
        }
        foreach (var (dataType, upstream) in SeedDependents)
            settings[$"DataTypes:{dataType}:DependsOn:0"] = upstream;
        foreach (var dataType in SeedVendorTypes)
            settings[$"DataTypes:{dataType}:Vendor"] = SeedVendor;
        return settings;
    }

    private static string SeedEntity(int i) => $"e-{i:00000}";

    private static async Task<double> SeedRegisterAsync(HttpClient http, int entities, SeedTier[] tiers, int posters)
    {
        var tierOf = tiers.SelectMany(t => Enumerable.Repeat(t.Name, t.Entities)).ToArray();
        var chunks = SeedDataTypes.SelectMany(d => Enumerable.Range(0, (entities + ChunkSize - 1) / ChunkSize).Select(c => (DataType: d, Start: c * ChunkSize))).ToList();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, posters).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < chunks.Count; i = Interlocked.Increment(ref next))
            {
                var (dataType, start) = chunks[i];
                var body = new
                {
                    dataType,
                    items = Enumerable.Range(start, Math.Min(ChunkSize, entities - start)).Select(e => new { entityId = SeedEntity(e), tier = tierOf[e] }),
                };
                using var response = await http.PostAsJsonAsync("/api/work-items", body);
                response.EnsureSuccessStatusCode();
                if (i % 35 == 34)
                    Console.Error.WriteLine($"batchscheduler seed: {i + 1}/{chunks.Count} chunks registered, {clock.Elapsed.TotalSeconds:0} s");
            }
        }));
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>A small batch file (one-shot items of their own data type), so the batch views have one to show.</summary>
    private static async Task<string> SubmitSeedBatchAsync(HttpClient http)
    {
        var lines = string.Join('\n', Enumerable.Range(0, 20).Select(i => $"{{\"entityId\":\"{SeedEntity(i)}\"}}"));
        using var content = new StringContent(lines, Encoding.UTF8, "application/x-ndjson");
        using var response = await http.PostAsync($"/api/batches?dataType={SeedBatchType}", content);
        response.EnsureSuccessStatusCode();
        var batch = await response.Content.ReadFromJsonAsync<global::System.Text.Json.JsonElement>();
        return batch.GetProperty("id").GetString()!;
    }

    private static async Task<BenchResult> SeedSizeAsync(BenchDatabase db, long items)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT pg_database_size(current_database()),
                   pg_total_relation_size('work_items'),
                   pg_total_relation_size('qrtz_triggers') + pg_total_relation_size('qrtz_simple_triggers')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (database, workItems, triggers) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        var notes = $"{items:N0} items after registration and VACUUM ANALYZE: database {database / 1048576.0:N0} MB, work_items with its indexes " +
                    $"{workItems / 1048576.0:N0} MB, Quartz's trigger rows (qrtz_triggers + qrtz_simple_triggers, items not in tier exclude) {triggers / 1048576.0:N0} MB";
        return new BenchResult(System, "seed", "seed database size per item", database / (double)items, "bytes", notes);
    }

    /// <summary>
    /// The steady state of a cluster that has run for weeks: each recurring item's trigger is given a
    /// phase spread evenly over its cadence (start and next fire time at now plus a uniform share of the
    /// interval), where registering 3 million items in one go would otherwise leave every item of a tier
    /// on the same tick. Quartz's own columns, written with the workers stopped; the trigger then fires on
    /// start + k × interval as Quartz computes it.
    /// </summary>
    private static async Task RephaseAsync(BenchDatabase db)
    {
        var now = TimeProvider.System.GetUtcNow().UtcTicks;
        await db.ExecuteAsync(
            $"""
            UPDATE qrtz_triggers t SET next_fire_time = x.due, start_time = x.due, prev_fire_time = NULL
            FROM (SELECT sched_name, trigger_name, trigger_group, {now} + (random() * repeat_interval * 10000)::bigint AS due
                  FROM qrtz_simple_triggers WHERE repeat_count = -1) x
            WHERE t.sched_name = x.sched_name AND t.trigger_name = x.trigger_name AND t.trigger_group = x.trigger_group
              AND t.trigger_state = 'WAITING'
            """);
        await db.ExecuteAsync("VACUUM ANALYZE qrtz_triggers");
    }

    private static async Task<List<ChildNode>> StartSeedWorkersAsync(BenchDatabase db, Dictionary<string, string?> settings, int workers)
    {
        var nodes = new List<ChildNode>();
        for (var w = 1; w <= workers; w++)
        {
            nodes.Add(await ChildNode.StartAsync(new Dictionary<string, string?>(settings)
            {
                ["Storage:Provider"] = "Postgres",
                ["Storage:ConnectionString"] = db.ConnectionString,
                ["Cluster:Role"] = "worker",
                ["Cluster:NodeId"] = $"seed-worker-{w}",
                ["Demo:SeedItems"] = "false",
                ["Serilog:MinimumLevel:Default"] = Environment.GetEnvironmentVariable("BENCH_CHILD_LEVEL") ?? "Warning",
            }));
        }
        return nodes;
    }

    private static async Task StopSeedWorkersAsync(List<ChildNode> workers)
    {
        await Task.WhenAll(workers.Select(w => w.StopAsync(TimeSpan.FromMinutes(2))));
        foreach (var worker in workers)
            worker.Dispose();
    }

    private static async Task<IReadOnlyList<BenchResult>> SeedSteadyAsync(
        BenchDatabase db, Dictionary<string, string?> settings, int workers, TimeSpan window, SeedProbe probe, string variant)
    {
        var nodes = await StartSeedWorkersAsync(db, settings, workers);
        // The first minute fills Quartz's rounds and the caches; the window starts on the next whole minute after it.
        var warm = TimeProvider.System.GetUtcNow().AddMinutes(1);
        var from = new DateTimeOffset(warm.Year, warm.Month, warm.Day, warm.Hour, warm.Minute, 0, TimeSpan.Zero).AddMinutes(1);
        var to = from + window;
        await DelayUntilAsync(from);
        probe.Phase = $"{variant}, steady";
        Console.Error.WriteLine($"batchscheduler seed: {variant}: steady window {from:HH:mm:ss}–{to:HH:mm:ss}");
        var load = new List<double>();
        while (TimeProvider.System.GetUtcNow() < to)
        {
            await Task.Delay(TimeSpan.FromSeconds(30)); // a measurement window, not a wait for a condition
            load.Add(LoadAverage());
        }
        probe.Phase = null;
        var rss = nodes.Select(n => n.PeakRssMegabytes()).Max();
        await StopSeedWorkersAsync(nodes);

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        // Executions and deferrals in the window's whole minutes, as the nodes counted them.
        await using var stats = new NpgsqlCommand(
            "SELECT COALESCE(SUM(executions), 0), COALESCE(SUM(deferred), 0) FROM stats_minutely WHERE minute_start >= @from AND minute_start < @to", connection) { CommandTimeout = 600 };
        stats.Parameters.AddWithValue("from", from.ToUnixTimeMilliseconds());
        stats.Parameters.AddWithValue("to", to.ToUnixTimeMilliseconds());
        long executions, deferred;
        await using (var reader = await stats.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            (executions, deferred) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        // Due-to-start of every start in the window of a data type that runs on its own schedule (not a
        // dependent, whose run-nows are due when their upstream completes): the start minus the last tick of
        // its trigger's schedule (start + k × interval) at or before it.
        await using var delays = new NpgsqlCommand(
            $"""
            WITH d AS (
              SELECT ((EXTRACT(EPOCH FROM w.updates_start) * 10000000)::bigint + 621355968000000000 - t.start_time) AS since, s.repeat_interval * 10000 AS every
              FROM work_items w
              JOIN qrtz_triggers t ON t.trigger_group = w.data_type AND t.trigger_name = w.entity_id
              JOIN qrtz_simple_triggers s ON s.sched_name = t.sched_name AND s.trigger_group = t.trigger_group AND s.trigger_name = t.trigger_name
              WHERE w.updates_start >= @from AND w.updates_start < @to AND s.repeat_count = -1
                AND w.data_type NOT IN ({Dependents()})
            )
            SELECT COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.99) WITHIN GROUP (ORDER BY x), MAX(x)
            FROM (SELECT (since % every) / 10000000.0 AS x FROM d WHERE since >= 0) y
            """, connection) { CommandTimeout = 600 };
        delays.Parameters.AddWithValue("from", from);
        delays.Parameters.AddWithValue("to", to);
        await using var delayReader = await delays.ExecuteReaderAsync();
        await delayReader.ReadAsync();
        var (count, p50, p99, max) = (delayReader.GetInt64(0), delayReader.GetDouble(1), delayReader.GetDouble(2), Convert.ToDouble(delayReader.GetValue(3), CultureInfo.InvariantCulture));
        var notes = $"{window.TotalMinutes:0} min after a minute's warm-up, triggers phased evenly over their cadence; load average {load.DefaultIfEmpty().Average():0.0}";
        return
        [
            new BenchResult(System, variant, "seed steady executions/s", executions / window.TotalSeconds, "executions/s",
                $"{notes}; {executions:N0} executions and {deferred:N0} deferrals (dependents waiting for their upstream item, credits) in the window"),
            new BenchResult(System, variant, "seed steady due-to-start p50", p50, "s", $"{notes}; {count:N0} starts of data types with their own schedule; max {max:0.00} s"),
            new BenchResult(System, variant, "seed steady due-to-start p99", p99, "s", $"{notes}; {count:N0} starts"),
            new BenchResult(System, variant, "seed steady worker peak RSS", rss, "MB", $"VmHWM of the largest worker process (Scheduler.dll) after the steady window"),
        ];
    }

    /// <summary>
    /// An hour of downtime: the workers stop gracefully, then every trigger is moved an hour back (next,
    /// previous and start time) and so is every item's history (<c>updates_start</c>, <c>updates_end</c>,
    /// <c>updated_at</c>): what an hour of wall clock does to a stopped cluster, relative to now. The workers
    /// start again with everything that fell due in that hour overdue at once. Counted: the overdue items
    /// of data types that run on their own schedule (not the vendor's, paced by its credits, and not the
    /// dependents, which run when their upstream item completes).
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> SeedCatchUpAsync(
        BenchDatabase db, Dictionary<string, string?> settings, int workers, SeedProbe probe, string variant)
    {
        const long Hour = 36_000_000_000;
        var now = TimeProvider.System.GetUtcNow();
        await db.ExecuteAsync(
            $"""
            UPDATE qrtz_triggers SET next_fire_time = next_fire_time - {Hour}, start_time = start_time - {Hour},
                   prev_fire_time = CASE WHEN prev_fire_time > 0 THEN prev_fire_time - {Hour} ELSE prev_fire_time END
            WHERE next_fire_time > 0;
            UPDATE work_items SET updates_start = updates_start - interval '1 hour', updates_end = updates_end - interval '1 hour',
                   updated_at = updated_at - interval '1 hour'
            WHERE updates_start IS NOT NULL;
            DROP TABLE IF EXISTS bench_overdue;
            CREATE TABLE bench_overdue AS
              SELECT trigger_group AS data_type, trigger_name AS entity_id, next_fire_time AS due FROM qrtz_triggers
              WHERE next_fire_time <= {now.UtcTicks} AND trigger_state = 'WAITING';
            CREATE INDEX ON bench_overdue (data_type, entity_id);
            ANALYZE bench_overdue;
            ANALYZE qrtz_triggers;
            """);
        var vendorTypes = string.Join(", ", SeedVendorTypes.Select(d => $"'{d}'"));
        var counted = $"data_type NOT IN ({vendorTypes}, {Dependents()})";
        var overdue = await CountAsync(db, $"SELECT COUNT(*) FROM bench_overdue WHERE {counted}");
        var vendorOverdue = await CountAsync(db, $"SELECT COUNT(*) FROM bench_overdue WHERE data_type IN ({vendorTypes})");
        probe.Phase = $"{variant}, catch-up";
        var restart = TimeProvider.System.GetUtcNow();
        var nodes = await StartSeedWorkersAsync(db, settings, workers);
        var clock = Stopwatch.StartNew();
        var startedSql = $"SELECT COUNT(*) FROM bench_overdue o JOIN work_items w ON w.data_type = o.data_type AND w.entity_id = o.entity_id " +
                         $"WHERE o.{counted} AND w.updates_start >= '{restart:O}'";
        var load = new List<double>();
        var connections = 0L;
        while (await CountAsync(db, startedSql) < overdue)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(30))
                throw new TimeoutException($"catch-up: not every overdue item started within 30 minutes ({variant})");
            load.Add(LoadAverage());
            connections = Math.Max(connections, await CountAsync(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"));
            await Task.Delay(1000); // polling the outcome, not synchronising
        }
        var drained = clock.Elapsed.TotalSeconds;
        probe.Phase = null;
        var rss = nodes.Select(n => n.PeakRssMegabytes()).Max();
        var vendorStarted = await CountAsync(db, $"SELECT COUNT(*) FROM bench_overdue o JOIN work_items w ON w.data_type = o.data_type AND w.entity_id = o.entity_id " +
                                                 $"WHERE o.data_type IN ({vendorTypes}) AND w.updates_start >= '{restart:O}'");
        await StopSeedWorkersAsync(nodes);

        // Stalest first: over the data types with their own schedule and no vendor, how start order follows
        // due order (Spearman's rank correlation; 1 = exactly stalest first), and when the most and the least
        // overdue tenths started.
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var order = new NpgsqlCommand(
            $"""
            WITH s AS (
              SELECT o.due, EXTRACT(EPOCH FROM w.updates_start - @restart) AS at
              FROM bench_overdue o JOIN work_items w ON w.data_type = o.data_type AND w.entity_id = o.entity_id
              WHERE o.{counted}
            ), r AS (
              SELECT at, rank() OVER (ORDER BY due) AS by_due, rank() OVER (ORDER BY at) AS by_start, ntile(10) OVER (ORDER BY due) AS tenth FROM s
            )
            SELECT corr(by_due, by_start),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY at) FILTER (WHERE tenth = 1),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY at) FILTER (WHERE tenth = 10),
                   percentile_disc(0.1) WITHIN GROUP (ORDER BY at), percentile_disc(0.9) WITHIN GROUP (ORDER BY at)
            FROM r
            """, connection) { CommandTimeout = 600 };
        order.Parameters.AddWithValue("restart", restart);
        await using var reader = await order.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (spearman, stalest, freshest) = (reader.GetDouble(0), reader.GetDouble(1), reader.GetDouble(2));
        var rate = 0.8 * overdue / Math.Max(0.001, reader.GetDouble(4) - reader.GetDouble(3));
        var notes = $"{overdue:N0} items overdue after an hour down (plus {vendorOverdue:N0} of the vendor's data types, paced by its 800 credits a minute: " +
                    $"{vendorStarted:N0} started by then); load average {load.DefaultIfEmpty().Average():0.0}";
        return
        [
            new BenchResult(System, variant, "seed catch-up all overdue started", drained, "s", $"from the workers' start; {notes}"),
            new BenchResult(System, variant, "seed catch-up executions/s", rate, "executions/s", $"overdue items started per second between 10% and 90% of them; {notes}"),
            new BenchResult(System, variant, "seed catch-up stalest first (Spearman)", spearman, "ρ",
                $"rank correlation of due time and start over the overdue items of data types with their own schedule; the most overdue tenth started at {stalest:0.0} s (median), the least overdue at {freshest:0.0} s"),
            new BenchResult(System, variant, "seed catch-up worker peak RSS", rss, "MB", "VmHWM of the largest worker process after the catch-up"),
            new BenchResult(System, variant, "seed catch-up peak connections", connections, "connections",
                "most sessions on the database (pg_stat_activity, sampled each second) during the catch-up, the API node's included; each node has two Npgsql pools of up to 100"),
        ];
    }

    private static string Dependents() => string.Join(", ", SeedDependents.Select(d => $"'{d.DataType}'"));

    private static async Task DelayUntilAsync(DateTimeOffset at)
    {
        var wait = at - TimeProvider.System.GetUtcNow();
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait); // the start of a measurement window
    }

    private static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>The seed's figures as a table: one row per figure, a column for each phase's worker count.</summary>
    internal static string SeedTable(IReadOnlyList<BenchResult> results)
    {
        string[] columns = ["seed", "seed: 1 worker", "seed: 2 workers"];
        var md = new StringBuilder();
        md.AppendLine("| Figure | registration (no workers) | 1 worker | 2 workers | Unit |");
        md.AppendLine("|---|---:|---:|---:|---|");
        foreach (var row in results.Where(r => columns.Contains(r.Variant)).GroupBy(r => r.Metric))
        {
            var cells = columns.Select(c => row.FirstOrDefault(r => r.Variant == c) is { } r ? Number(r.Value) : "");
            md.AppendLine(CultureInfo.InvariantCulture, $"| {row.Key["seed ".Length..]} | {string.Join(" | ", cells)} | {row.First().Unit} |");
        }
        return md.ToString();

        static string Number(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);
    }
}

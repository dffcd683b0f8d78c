using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace BatchScheduler.Bench;

/// <summary>
/// I/O-bound executors (issue 24): items whose executor awaits 100 ms, drained by one worker process with
/// <c>Cluster:MaxConcurrency</c> 1,000, whose ceiling is 1,000 / 0.1 s = 10,000 executions/s.
/// </summary>
public static partial class BatchSchedulerScenarios
{
    private static readonly TimeSpan IoDuration = TimeSpan.FromMilliseconds(100);
    private const int IoConcurrency = 1000;

    /// <summary>
    /// --items due items (registered first through an API node, untimed) of a data type whose executor is the
    /// <c>demo</c> executor at 100 ms (an awaited <c>Task.Delay</c>: no thread is held), then one worker
    /// (<c>Scheduler.dll</c>, its own process, so its CPU is its own) drains them. Every 250 ms the number of
    /// items <c>in_flight</c> and the worker's CPU time are sampled.
    /// </summary>
    private static async Task<IReadOnlyList<BenchResult>> IoBoundAsync(BenchOptions options)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "bs_io");
        await RegisterThroughApiAsync(db, options.Items, warmUp: false);
        await db.ExecuteAsync("VACUUM ANALYZE");
        var samples = new List<(double Seconds, long InFlight, long Fired, double CpuSeconds, int Threads)>();
        var postgres = new PostgresBackendCpu(db);
        double seconds, cpuSeconds;
        using (var worker = await ChildNode.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["Storage:ConnectionString"] = db.ConnectionString,
            ["Cluster:NodeId"] = "io-worker",
            ["Cluster:MaxConcurrency"] = IoConcurrency.ToString(CultureInfo.InvariantCulture),
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            [$"DataTypes:{DataType}:Executor"] = "demo",
            [$"DataTypes:{DataType}:Demo:Duration"] = IoDuration.ToString("c", CultureInfo.InvariantCulture),
        }))
        {
            Console.Error.WriteLine($"batchscheduler io: worker process {worker.ProcessId} started");
            var cpuAtStart = worker.CpuSeconds();
            await postgres.SampleAsync();
            var clock = Stopwatch.StartNew();
            using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await tick.WaitForNextTickAsync())
            {
                // Cheap reads (the state index, at most the backlog's rows): a count of the completed rows cost 55 ms of
                // database time every 250 ms, a fifth of what the drain itself used.
                var inFlight = await CountAsync(db, "SELECT COUNT(*) FROM work_items WHERE state = 'in_flight'");
                var left = await CountAsync(db, "SELECT COUNT(*) FROM (SELECT 1 FROM work_items WHERE state IN ('never_run', 'in_flight') LIMIT 1) x");
                var fired = await CountAsync(db, "SELECT COUNT(*) FROM qrtz_fired_triggers");
                await postgres.SampleAsync();
                samples.Add((clock.Elapsed.TotalSeconds, inFlight, fired, worker.CpuSeconds() - cpuAtStart, worker.Threads()));
                if (left == 0 && await CountAsync(db, $"SELECT COUNT(*) FROM work_items WHERE data_type = '{DataType}' AND state = 'completed'") >= options.Items)
                    break;
                if (clock.Elapsed > TimeSpan.FromMinutes(10))
                    throw new TimeoutException($"not all {options.Items} items completed within 10 minutes");
            }
            seconds = clock.Elapsed.TotalSeconds;
            cpuSeconds = worker.CpuSeconds() - cpuAtStart;
        }
        var rate = await RateBetween10And90Async(db, options.Items);
        // The steady part of the drain: samples with a full backlog still waiting (after the first second, before the tail).
        var steady = samples.Where(s => s.Seconds > 1 && s.Seconds < seconds - 1).ToList();
        if (steady.Count == 0)
            steady = samples;
        var inFlightSorted = steady.Select(s => s.InFlight).Order().ToList();
        var (maxInFlight, medianInFlight) = (inFlightSorted[^1], inFlightSorted[inFlightSorted.Count / 2]);
        var cpuPerExecution = cpuSeconds * 1e6 / options.Items;
        var cores = cpuSeconds / seconds;
        var postgresPerExecution = postgres.Seconds * 1e6 / options.Items;
        Console.Error.WriteLine($"batchscheduler io: {options.Items} items in {seconds:0.0} s, {rate:0}/s (10-90%), in flight max {maxInFlight} median {medianInFlight}, " +
            $"worker CPU {cpuSeconds:0.0} s ({cores:0.00} cores, {cpuPerExecution:0} µs an execution), threads max {samples.Max(s => s.Threads)}");
        foreach (var s in samples.Where((_, i) => i % 4 == 0 || Environment.GetEnvironmentVariable("BENCH_IO_SAMPLES") == "all"))
            Console.Error.WriteLine($"  t={s.Seconds,6:0.0} s in_flight={s.InFlight,5} fired rows={s.Fired,5} worker cpu={s.CpuSeconds,6:0.0} s threads={s.Threads}");
        await PrintTopStatementsAsync(db);
        var variant = $"{options.Items:N0} items of 100 ms, MaxConcurrency {IoConcurrency:N0}, 1 node";
        var notes = $"demo executor awaiting {IoDuration.TotalMilliseconds:0} ms (no thread held), one worker process (Scheduler.dll), full bookkeeping; ceiling {IoConcurrency / IoDuration.TotalSeconds:N0}/s";
        return
        [
            new BenchResult(System, variant, "I/O-bound drain", rate, "executions/s",
                $"{notes}; 10–90% of updates_end; {rate / (IoConcurrency / IoDuration.TotalSeconds) * 100:0}% of the ceiling; whole drain {seconds:0.0} s"),
            new BenchResult(System, variant, "I/O-bound in flight", medianInFlight, "items",
                $"items in_flight sampled every 250 ms while the backlog lasted: median {medianInFlight:N0}, max {maxInFlight:N0} (of {IoConcurrency:N0} slots)"),
            new BenchResult(System, variant, "I/O-bound worker CPU", cpuPerExecution, "µs/execution",
                $"the worker process's user + system CPU over the drain: {cpuSeconds:0.0} s, {cores:0.00} of {Environment.ProcessorCount} cores on average; peak {samples.Max(s => s.Threads)} threads"),
            new BenchResult(System, variant, "I/O-bound PostgreSQL CPU", postgresPerExecution, "µs/execution",
                $"user + system CPU of the PostgreSQL backends serving this database over the drain: {postgres.Seconds:0.0} s, {postgres.Seconds / seconds:0.00} cores on average " +
                $"(WAL writer and checkpointer not included), at most {postgres.PeakConnections} connections at once; worker + PostgreSQL {cpuPerExecution + postgresPerExecution:0} µs an execution, " +
                $"so {Environment.ProcessorCount} cores fully given to both would run at most {Environment.ProcessorCount * 1e6 / (cpuPerExecution + postgresPerExecution):N0}/s"),
        ];
    }

    /// <summary>The top statements of the database by execution time (pg_stat_statements), on stderr: where the database time went.</summary>
    private static async Task PrintTopStatementsAsync(BenchDatabase db)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT 10
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        Console.Error.WriteLine("  top statements: calls, total ms, mean ms, rows");
        while (await reader.ReadAsync())
            Console.Error.WriteLine($"  {reader.GetInt64(0),8} {reader.GetDouble(1),9:0} {reader.GetDouble(1) / reader.GetInt64(0),7:0.00} {reader.GetInt64(2),8}  {reader.GetString(3)}");
    }

    /// <summary>
    /// CPU time (user + system) of the PostgreSQL backends connected to one database, from /proc (PostgreSQL on this
    /// machine): sampled while they live, so each backend counts from its first sample (or from zero, when it connected since).
    /// </summary>
    private sealed class PostgresBackendCpu(BenchDatabase db)
    {
        private readonly Dictionary<int, (double First, double Last)> _backends = [];
        private bool _started;

        public double Seconds => _backends.Values.Sum(b => b.Last - b.First);

        /// <summary>The most connections to the database seen at once (the bench's own one included).</summary>
        public int PeakConnections { get; private set; }

        public async Task SampleAsync()
        {
            await using var connection = new NpgsqlConnection(db.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = current_database()", connection);
            await using var reader = await command.ExecuteReaderAsync();
            var connections = 0;
            while (await reader.ReadAsync())
            {
                connections++;
                var pid = reader.GetInt32(0);
                double cpu;
                try
                {
                    cpu = ChildNode.CpuSecondsOf(pid);
                }
                catch (IOException)
                {
                    continue; // exited, or PostgreSQL is not on this machine
                }
                _backends[pid] = _backends.TryGetValue(pid, out var known) ? (known.First, cpu) : (_started ? 0 : cpu, cpu);
            }
            _started = true;
            PeakConnections = Math.Max(PeakConnections, connections);
        }
    }
}

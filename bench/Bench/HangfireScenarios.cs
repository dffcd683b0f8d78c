using System.Globalization;
using Hangfire;
using Hangfire.Logging;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Npgsql;

namespace BatchScheduler.Bench;

/// <summary>
/// Hangfire 1.8 + Hangfire.PostgreSql 1.21 as the comparison baseline: how fast users register
/// (enqueue) no-op jobs, and how fast BackgroundJobServers drain them.
/// </summary>
public static class HangfireScenarios
{
    private const string SystemName = "hangfire";
    private const string Variant = "Hangfire.PostgreSql";
    private const int WorkerCount = 32;
    private const int ParallelEnqueuers = 8;
    private const int WarmUpJobs = 100;
    private static readonly TimeSpan QueuePollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(5);

    public static async Task<IReadOnlyList<BenchResult>> RunAsync(string scenario, BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Items <= 0)
            throw new ArgumentException("--items must be positive");
        // Hangfire would otherwise pick up whatever logging library it finds (Serilog is referenced);
        // keep stdout for the JSON result lines and show only warnings and errors, on stderr.
        LogProvider.SetCurrentLogProvider(new StderrLogProvider());
        return scenario switch
        {
            "register" => await RegisterAsync(options),
            "drain" => await DrainAsync(options),
            _ => throw new ArgumentException($"unknown scenario '{scenario}' for hangfire (register | drain)"),
        };
    }

    private static PostgreSqlStorage CreateStorage(string connectionString)
    {
        var storageOptions = new PostgreSqlStorageOptions
        {
            PrepareSchemaIfNecessary = true,
            QueuePollInterval = QueuePollInterval,
        };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, storageOptions), storageOptions);
        // Creates the schema now, so that schema creation is never inside a timed section.
        using (var connection = storage.GetConnection())
            connection.GetAllItemsFromSet("bench-warm-up");
        return storage;
    }

    // ---------------------------------------------------------------- register

    private static async Task<IReadOnlyList<BenchResult>> RegisterAsync(BenchOptions options)
    {
        // Each method gets its own fresh database, so neither enqueues into a table the other filled.
        var sequential = await MeasureRegisterAsync(options, parallelism: 1);
        var parallel = await MeasureRegisterAsync(options, parallelism: ParallelEnqueuers);
        var bestIsParallel = parallel > sequential;
        var notes = string.Create(CultureInfo.InvariantCulture,
            $"{options.Items} no-op jobs via BackgroundJobClient.Enqueue, no server running, fresh database per method, " +
            $"{WarmUpJobs} untimed warm-up enqueues first; sequential {sequential:F0}/s, {ParallelEnqueuers} concurrent enqueuers {parallel:F0}/s; " +
            $"figure = {(bestIsParallel ? $"{ParallelEnqueuers} concurrent enqueuers" : "sequential")} (the better)");
        return [new BenchResult(SystemName, $"{Variant}, {options.Items:N0} items", "register", Math.Max(sequential, parallel), "items/s", notes)];
    }

    private static async Task<double> MeasureRegisterAsync(BenchOptions options, int parallelism)
    {
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "hangfire_reg");
        Console.Error.WriteLine($"hangfire register: database {db.Name}, {parallelism} enqueuer(s)");
        var storage = CreateStorage(db.ConnectionString); // not IDisposable in 1.21; holds no connection
        var client = new BackgroundJobClient(storage);
        for (var i = 0; i < WarmUpJobs; i++)
            client.Enqueue(() => HangfireNoopJob.Run(-1 - i));

        var start = TimeProvider.System.GetTimestamp();
        await EnqueueAsync(client, options.Items, parallelism);
        var elapsed = TimeProvider.System.GetElapsedTime(start);
        var rate = options.Items / elapsed.TotalSeconds;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hangfire register: {options.Items} jobs in {elapsed.TotalSeconds:F2} s with {parallelism} enqueuer(s) = {rate:F0}/s"));
        return rate;
    }

    /// <summary>Enqueues jobs 0..count-1, sequentially on this thread or on <paramref name="parallelism"/> dedicated threads.</summary>
    private static async Task EnqueueAsync(IBackgroundJobClient client, int count, int parallelism)
    {
        if (parallelism <= 1)
        {
            for (var i = 0; i < count; i++)
            {
                var item = i;
                client.Enqueue(() => HangfireNoopJob.Run(item));
            }
            return;
        }
        var next = -1;
        var enqueuers = Enumerable.Range(0, parallelism).Select(_ => Task.Factory.StartNew(() =>
        {
            int item;
            while ((item = Interlocked.Increment(ref next)) < count)
                client.Enqueue(() => HangfireNoopJob.Run(item));
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        await Task.WhenAll(enqueuers);
    }

    // ---------------------------------------------------------------- drain

    private static async Task<IReadOnlyList<BenchResult>> DrainAsync(BenchOptions options)
    {
        var items = options.Items;
        var nodes = Math.Max(1, options.Nodes);
        await using var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, "hangfire_drain");
        Console.Error.WriteLine($"hangfire drain: database {db.Name}, {items} jobs, {nodes} server(s) x {WorkerCount} workers");
        var storage = CreateStorage(db.ConnectionString); // not IDisposable in 1.21; holds no connection

        HangfireNoopJob.Reset(items);
        await EnqueueAsync(new BackgroundJobClient(storage), items, ParallelEnqueuers);
        Console.Error.WriteLine($"hangfire drain: {items} jobs enqueued");
        var before = await db.CountersAsync(); // no server yet; CountersAsync clears the pools

        var servers = new List<BackgroundJobServer>();
        TimeSpan drainElapsed;
        double rate;
        long completed;
        try
        {
            var serverStart = TimeProvider.System.GetTimestamp();
            for (var n = 0; n < nodes; n++)
            {
                servers.Add(new BackgroundJobServer(
                    new BackgroundJobServerOptions
                    {
                        WorkerCount = WorkerCount,
                        ServerName = $"bench-node-{n + 1}",
                        Queues = ["default"],
                    },
                    storage));
            }

            var lastReport = serverStart;
            while (HangfireNoopJob.Completed < items)
            {
                if (TimeProvider.System.GetElapsedTime(serverStart) > DrainTimeout)
                    throw new TimeoutException($"hangfire drain: only {HangfireNoopJob.Completed} of {items} jobs executed within {DrainTimeout.TotalMinutes} min");
                if (TimeProvider.System.GetElapsedTime(lastReport) >= TimeSpan.FromSeconds(5))
                {
                    lastReport = TimeProvider.System.GetTimestamp();
                    Console.Error.WriteLine($"hangfire drain: {HangfireNoopJob.Completed}/{items} executed");
                }
                await Task.Delay(20);
            }
            drainElapsed = TimeProvider.System.GetElapsedTime(serverStart);
            rate = HangfireNoopJob.RateBetween(0.1, 0.9);

            // The counter moves when the method returns; the Succeeded transition follows. Wait for
            // every transition so that the statement counts cover whole executions.
            var monitoring = storage.GetMonitoringApi();
            var waitStart = TimeProvider.System.GetTimestamp();
            while (monitoring.SucceededListCount() < items && TimeProvider.System.GetElapsedTime(waitStart) < TimeSpan.FromSeconds(30))
                await Task.Delay(50);
            completed = monitoring.SucceededListCount();
        }
        finally
        {
            foreach (var server in servers)
                server.SendStop();
            foreach (var server in servers)
                server.Dispose();
            Console.Error.WriteLine("hangfire drain: servers disposed");
        }

        var after = await db.CountersAsync(); // servers disposed; CountersAsync clears the pools
        var executions = HangfireNoopJob.Completed;
        var statements = (double)(after.Statements - before.Statements) / items;
        var commits = (double)(after.Commits - before.Commits) / items;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hangfire drain: {items} jobs in {drainElapsed.TotalSeconds:F2} s from server start, {rate:F0}/s between 10% and 90%, " +
            $"{executions} executions counted, {completed} in Succeeded, {statements:F1} statements and {commits:F2} commits per execution"));

        var variant = $"{Variant}, {nodes} node(s)";
        var duplicates = executions > items ? $"; {executions - items} duplicate executions" : "";
        var notes = string.Create(CultureInfo.InvariantCulture,
            $"{items} no-op jobs enqueued before start; {nodes} BackgroundJobServer(s) with distinct ServerName, all in one process " +
            $"sharing one PostgreSqlStorage, WorkerCount {WorkerCount} each, QueuePollInterval {QueuePollInterval.TotalMilliseconds} ms, " +
            $"long polling off (default); rate between 10% and 90% of completions; whole drain {drainElapsed.TotalSeconds:F1} s from server start{duplicates}");
        var counterNotes = string.Create(CultureInfo.InvariantCulture,
            $"pg_stat_statements / pg_stat_database deltas from after enqueue (no server) to after drain (servers disposed) over {items} jobs; " +
            $"includes the servers' start-up, heartbeat and maintenance work");
        return
        [
            new BenchResult(SystemName, variant, "drain", rate, "executions/s", notes),
            new BenchResult(SystemName, variant, "statements/execution", statements, "statements", counterNotes),
            new BenchResult(SystemName, variant, "commits/execution", commits, "commits", counterNotes),
        ];
    }

    private sealed class StderrLogProvider : ILogProvider
    {
        public ILog GetLogger(string name) => new StderrLog(name);

        private sealed class StderrLog(string name) : ILog
        {
            public bool Log(LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
            {
                if (logLevel < LogLevel.Warn)
                    return false;
                if (messageFunc is null)
                    return true; // Hangfire asks whether the level is enabled
                Console.Error.WriteLine($"hangfire {logLevel} {name}: {messageFunc()}{(exception is null ? "" : " " + exception)}");
                return true;
            }
        }
    }
}

/// <summary>The no-op job both scenarios enqueue; counts executions and stamps each completion.</summary>
public static class HangfireNoopJob
{
    private static long _completed;
    private static long[] _stamps = [];

    public static long Completed => Interlocked.Read(ref _completed);

    public static void Run(int item)
    {
        _ = item;
        var n = Interlocked.Increment(ref _completed);
        var stamps = _stamps;
        if (n <= stamps.Length)
            stamps[n - 1] = TimeProvider.System.GetTimestamp();
    }

    internal static void Reset(int expected)
    {
        _stamps = new long[expected];
        Interlocked.Exchange(ref _completed, 0);
    }

    /// <summary>Executions per second between the given fractions of the expected completions.</summary>
    internal static double RateBetween(double from, double to)
    {
        var stamps = _stamps;
        var first = Math.Clamp((int)Math.Floor(stamps.Length * from), 0, stamps.Length - 1);
        var last = Math.Clamp((int)Math.Ceiling(stamps.Length * to) - 1, 0, stamps.Length - 1);
        if (last <= first)
            return double.NaN;
        var seconds = TimeProvider.System.GetElapsedTime(stamps[first], stamps[last]).TotalSeconds;
        return seconds > 0 ? (last - first) / seconds : double.NaN;
    }
}

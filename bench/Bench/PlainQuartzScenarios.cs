using BatchScheduler.Storage.Migrations;
using Npgsql;
using Quartz;

namespace BatchScheduler.Bench;

/// <summary>
/// Plain Quartz.NET 4.7.3 (clustered AdoJobStore on PostgreSQL, no BatchScheduler code on the hot path),
/// the baseline the other systems are compared with. Two shapes, see <see cref="Variant"/>:
/// <list type="bullet">
///   <item>"default": the usual plain-Quartz way — one JobDetail + one one-shot trigger per item,
///   10 threads, Quartz's defaults otherwise.</item>
///   <item>"tuned": one durable job shared by every item, one one-shot trigger per item, 32 threads,
///   Npgsql automatic statement preparation, IdleWaitTime 1 s.</item>
/// </list>
/// Both cluster (check-in every 5 s). Every variant runs in its own fresh database, on Quartz's own schema.
/// </summary>
public static class PlainQuartzScenarios
{
    private const string SystemName = "plain-quartz";
    private const string SchedulerName = "plain-quartz-bench";
    private const string Group = "bench";
    private const int Chunk = 1_000;
    private const int WarmUpItems = 100;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(5);

    public static async Task<IReadOnlyList<BenchResult>> RunAsync(string scenario, BenchOptions options)
    {
        if (options.Items <= 0)
            throw new ArgumentException("--items must be positive");
        if (options.Nodes <= 0)
            throw new ArgumentException("--nodes must be positive");

        var results = new List<BenchResult>();
        foreach (var variant in new[] { Variant.Default, Variant.Tuned })
        {
            results.AddRange(scenario switch
            {
                "register" => await RegisterAsync(variant, options),
                "drain" => await DrainAsync(variant, options),
                _ => throw new ArgumentException($"unknown scenario '{scenario}' for {SystemName} (register | drain)"),
            });
        }
        return results;
    }

    private static async Task<IReadOnlyList<BenchResult>> RegisterAsync(Variant variant, BenchOptions options)
    {
        await using var db = await CreateDatabaseAsync(variant, options);
        var before = await db.CountersAsync();
        TimeSpan elapsed;
        await using (var factory = Build(variant, db.ConnectionString, $"{SchedulerName}-register"))
        {
            var scheduler = await factory.GetScheduler();
            try
            {
                // Untimed warm-up (JIT, connection pool, Npgsql type loading), so the variant that runs
                // first in the process is not charged for it.
                await ScheduleItemsAsync(scheduler, variant, WarmUpItems, "warmup");
                Log($"{variant.Name}: registering {options.Items} items (scheduler in standby)");
                var start = TimeProvider.System.GetTimestamp();
                await ScheduleItemsAsync(scheduler, variant, options.Items, "register");
                elapsed = TimeProvider.System.GetElapsedTime(start);
            }
            finally
            {
                await scheduler.Shutdown(waitForJobsToComplete: false);
            }
        }
        var rate = options.Items / elapsed.TotalSeconds;
        Log($"{variant.Name}: registered {options.Items} items in {elapsed.TotalSeconds:F2} s = {rate:F0} items/s");
        // Diagnostic only (stderr): what registering cost the database, scheduler start-up and shutdown included.
        var after = await db.CountersAsync();
        var registered = (double)(options.Items + WarmUpItems);
        Log($"{variant.Name}: {(after.Statements - before.Statements) / registered:F2} statements and " +
            $"{(after.Commits - before.Commits) / registered:F3} commits per item registered");
        return
        [
            new BenchResult(SystemName, $"{variant.Name}, {options.Items:N0} items", "register", Math.Round(rate, 1), "items/s",
                $"{options.Items} items, ScheduleJobs in chunks of {Chunk:N0} on a standby scheduler, after an untimed warm-up of {WarmUpItems}" +
                (variant.SharedJob ? " (one shared durable job, triggers only)" : " (a JobDetail + a trigger per item)")),
        ];
    }

    private static async Task<IReadOnlyList<BenchResult>> DrainAsync(Variant variant, BenchOptions options)
    {
        var label = $"{variant.Name}, {options.Nodes} node(s)";
        await using var db = await CreateDatabaseAsync(variant, options);

        // Register with one scheduler in standby (not timed), then shut it down so the counters taken
        // next are flushed and cover the drain alone.
        var registerStart = TimeProvider.System.GetTimestamp();
        await using (var registrar = Build(variant, db.ConnectionString, $"{SchedulerName}-registrar"))
        {
            var scheduler = await registrar.GetScheduler();
            try
            {
                Log($"{label}: registering {options.Items} due-now items (standby, not timed)");
                await ScheduleItemsAsync(scheduler, variant, options.Items, "drain");
            }
            finally
            {
                await scheduler.Shutdown(waitForJobsToComplete: false);
            }
        }
        Log($"{label}: registered in {TimeProvider.System.GetElapsedTime(registerStart).TotalSeconds:F1} s");
        var before = await db.CountersAsync();

        var progress = NoopJob.Reset(options.Items);
        var misfires = new MisfireCounter();
        var factories = new List<StandaloneSchedulerFactory>();
        var schedulers = new List<IScheduler>();
        double rate;
        TimeSpan total;
        try
        {
            for (var node = 0; node < options.Nodes; node++)
            {
                var factory = Build(variant, db.ConnectionString, $"{SchedulerName}-node-{node + 1}");
                factories.Add(factory);
                var scheduler = await factory.GetScheduler();
                schedulers.Add(scheduler);
                scheduler.ListenerManager.AddTriggerListener(misfires);
            }

            Log($"{label}: starting {options.Nodes} scheduler(s), {variant.Threads} threads each");
            var drainStart = TimeProvider.System.GetTimestamp();
            foreach (var scheduler in schedulers)
                await scheduler.Start();

            using (var timeout = new CancellationTokenSource(DrainTimeout))
            {
                var lastReport = TimeProvider.System.GetTimestamp();
                while (!progress.AllDone.IsCompleted)
                {
                    try
                    {
                        await progress.AllDone.WaitAsync(TimeSpan.FromSeconds(1), timeout.Token);
                    }
                    catch (TimeoutException)
                    {
                    }
                    catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                    {
                        throw new TimeoutException(
                            $"{label}: only {progress.Completed} of {options.Items} executions after {DrainTimeout.TotalMinutes:F0} min");
                    }
                    if (TimeProvider.System.GetElapsedTime(lastReport) >= TimeSpan.FromSeconds(5))
                    {
                        lastReport = TimeProvider.System.GetTimestamp();
                        Log($"{label}: {progress.Completed}/{options.Items} executed after {TimeProvider.System.GetElapsedTime(drainStart).TotalSeconds:F0} s");
                    }
                }
            }
            total = TimeProvider.System.GetElapsedTime(drainStart);
            rate = progress.Rate;
            Log($"{label}: all {options.Items} executed in {total.TotalSeconds:F1} s; 10–90% rate {rate:F0} executions/s; {misfires.Count} misfire(s)");
        }
        finally
        {
            await ShutdownAllAsync(schedulers, factories);
        }

        var after = await db.CountersAsync();
        var statements = (after.Statements - before.Statements) / (double)options.Items;
        var commits = (after.Commits - before.Commits) / (double)options.Items;
        Log($"{label}: {after.Statements - before.Statements} statements, {after.Commits - before.Commits} commits = {statements:F1} / {commits:F2} per execution");

        var notes = $"{options.Nodes} node(s), {variant.Threads} threads each, 10–90%";
        if (options.Nodes > 1)
            notes += "; the nodes are schedulers in one process (distinct InstanceId, same InstanceName, same database)";
        if (misfires.Count > 0)
            notes += $"; {misfires.Count} trigger(s) misfired (waited longer than the 60 s misfire threshold)";
        var countNotes = $"{options.Nodes} node(s), {variant.Threads} threads each; whole drain including scheduler start-up and shutdown";
        return
        [
            new BenchResult(SystemName, label, "drain", Math.Round(rate, 1), "executions/s", notes),
            new BenchResult(SystemName, label, "statements/execution", Math.Round(statements, 2), "statements", countNotes),
            new BenchResult(SystemName, label, "commits/execution", Math.Round(commits, 2), "commits", countNotes),
        ];
    }

    /// <summary>Schedules <paramref name="items"/> due-now one-shot triggers with ScheduleJobs, in chunks of 1,000.</summary>
    private static async Task ScheduleItemsAsync(IScheduler scheduler, Variant variant, int items, string prefix)
    {
        if (variant.SharedJob)
        {
            // One durable job that every trigger fires. ScheduleJobs stores the job with each chunk, so
            // it has to be allowed to replace it (and nothing else exists to replace).
            var shared = JobBuilder.Create<NoopJob>().WithIdentity("shared", Group).StoreDurably().Build();
            for (var first = 0; first < items; first += Chunk)
            {
                var count = Math.Min(Chunk, items - first);
                var triggers = new List<ITrigger>(count);
                for (var i = first; i < first + count; i++)
                {
                    triggers.Add(TriggerBuilder.Create()
                        .WithIdentity($"{prefix}-{i:D7}", Group)
                        .ForJob(shared)
                        .StartNow()
                        .Build());
                }
                var batch = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>> { [shared] = triggers };
                await scheduler.ScheduleJobs(batch, ScheduleJobOptions.Replacing);
            }
        }
        else
        {
            for (var first = 0; first < items; first += Chunk)
            {
                var count = Math.Min(Chunk, items - first);
                var batch = new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>>(count);
                for (var i = first; i < first + count; i++)
                {
                    var job = JobBuilder.Create<NoopJob>().WithIdentity($"{prefix}-{i:D7}", Group).Build();
                    var trigger = TriggerBuilder.Create()
                        .WithIdentity($"{prefix}-{i:D7}", Group)
                        .ForJob(job)
                        .StartNow()
                        .Build();
                    batch[job] = [trigger];
                }
                await scheduler.ScheduleJobs(batch);
            }
        }
    }

    private static StandaloneSchedulerFactory Build(Variant variant, string connectionString, string instanceId)
    {
        var quartzConnectionString = variant.AutoPrepare
            // No Reset On Close as BatchScheduler's own nodes use it: without it every pooled
            // connection's return costs 7 reset statements, which would flatter the comparison.
            ? new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 64, AutoPrepareMinUsages = 2, NoResetOnClose = true }.ConnectionString
            : connectionString;
        return QuartzSchedulerBuilder.Create(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = SchedulerName;
                s.InstanceId = instanceId;
                if (variant.IdleWaitTime is { } idle)
                    s.IdleWaitTime = idle;
            });
            q.UseDefaultThreadPool(variant.Threads);
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(quartzConnectionString);
                store.UseClustering(c => c.CheckinInterval = TimeSpan.FromSeconds(5));
                store.UseSystemTextJsonSerializer();
            });
        }).Build();
    }

    private static async Task<BenchDatabase> CreateDatabaseAsync(Variant variant, BenchOptions options)
    {
        var db = await BenchDatabase.CreateAsync(options.AdminConnectionString, $"pq_{variant.Name}");
        try
        {
            // Quartz's own schema: BatchScheduler's V001, which a test holds equal to what Quartz
            // provisions itself, and none of the later scripts. V007 and V008 change Quartz's tables
            // (keys and indexes) for BatchScheduler's statements; they are part of what is measured,
            // not of the baseline (with V008 applied, plain Quartz registered 2,200 items/s; 1,703 the
            // run before, without it).
            await db.ExecuteAsync(QuartzSchema.Value);
            return db;
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    private static readonly Lazy<string> QuartzSchema = new(() =>
    {
        const string name = "BatchScheduler.Database.postgres/V001__quartz_tables.sql";
        using var stream = typeof(SchemaMigrator).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Scheduler.dll has no resource {name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    private static async Task ShutdownAllAsync(List<IScheduler> schedulers, List<StandaloneSchedulerFactory> factories)
    {
        var failures = new List<Exception>();
        // Stop firing everywhere first, then wait for what is running, so no node picks up the others' work.
        foreach (var scheduler in schedulers)
        {
            try
            {
                await scheduler.Standby();
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }
        foreach (var scheduler in schedulers)
        {
            try
            {
                await scheduler.Shutdown(waitForJobsToComplete: true);
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }
        foreach (var factory in factories)
        {
            try
            {
                await factory.DisposeAsync();
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }
        if (failures.Count > 0)
            throw new AggregateException("shutting the Quartz schedulers down failed", failures);
    }

    private static void Log(string message) => Console.Error.WriteLine($"[plain-quartz] {message}");

    /// <summary>What distinguishes the two plain-Quartz shapes.</summary>
    private sealed record Variant(string Name, bool SharedJob, int Threads, bool AutoPrepare, TimeSpan? IdleWaitTime)
    {
        public static readonly Variant Default = new("default", SharedJob: false, Threads: 10, AutoPrepare: false, IdleWaitTime: null);

        public static readonly Variant Tuned = new("tuned", SharedJob: true, Threads: 32, AutoPrepare: true, IdleWaitTime: TimeSpan.FromSeconds(1));
    }

    /// <summary>Counts misfires, which would mean the drain measured Quartz's misfire handling too.</summary>
    private sealed class MisfireCounter : ITriggerListener
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public string Name => "plain-quartz-bench-misfires";

        public ValueTask TriggerMisfired(ITrigger trigger, IScheduler scheduler, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _count);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Completion counter and the 10% / 90% timestamps of the current drain.</summary>
    private sealed class DrainProgress(int total)
    {
        private readonly int _tenth = Math.Max(1, total / 10);
        private readonly int _ninetieth = Math.Max(1, total * 9 / 10);
        private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _completed;
        private long _at10;
        private long _at90;

        public int Completed => Volatile.Read(ref _completed);

        public Task AllDone => _allDone.Task;

        /// <summary>Executions per second between the 10% and the 90% completion.</summary>
        public double Rate
        {
            get
            {
                var a = Interlocked.Read(ref _at10);
                var b = Interlocked.Read(ref _at90);
                var elapsed = TimeProvider.System.GetElapsedTime(a, b).TotalSeconds;
                return _ninetieth > _tenth && elapsed > 0 ? (_ninetieth - _tenth) / elapsed : double.NaN;
            }
        }

        public void Completion()
        {
            var n = Interlocked.Increment(ref _completed);
            if (n == _tenth)
                Interlocked.Exchange(ref _at10, TimeProvider.System.GetTimestamp());
            if (n == _ninetieth)
                Interlocked.Exchange(ref _at90, TimeProvider.System.GetTimestamp());
            if (n >= total)
                _allDone.TrySetResult();
        }
    }

    /// <summary>The job every item runs: does nothing but count its completion.</summary>
    private sealed class NoopJob : IJob
    {
        private static DrainProgress? s_progress;

        public static DrainProgress Reset(int total)
        {
            var progress = new DrainProgress(total);
            Volatile.Write(ref s_progress, progress);
            return progress;
        }

        public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
        {
            Volatile.Read(ref s_progress)?.Completion();
            return ValueTask.CompletedTask;
        }
    }
}

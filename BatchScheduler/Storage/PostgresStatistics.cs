using System.Data.Common;

namespace BatchScheduler.Storage;

/// <summary>
/// Keeps PostgreSQL's planner statistics in step with bulk registration. Autovacuum analyzes a table
/// at most once a minute and only after a tenth of it changed, so for up to a minute after a large
/// registration Quartz's per-firing statements are planned for the table as it was: after 10,000
/// items went into an empty database, the batched trigger lookup of each firing round ran as a
/// sequential scan (5 ms a round instead of 0.3). This node therefore analyzes <c>work_items</c> and
/// Quartz's trigger tables itself, in the background, once the items registered since its last
/// analyze reach the table's size then (the table doubled; at least <see cref="MinimumRows"/>). More
/// often only cost CPU beside the registration (four analyzes of 110-150 ms during 100,000 items): once
/// the statistics count the rows of a table that is no longer tiny, the planner scales them to the
/// table's current size itself. Elsewhere a no-op.
/// <para>
/// It also analyzes <c>qrtz_job_details</c> once the node has stored its jobs
/// (<see cref="JobsStoredAsync"/>). Schema V007 dropped the foreign key from triggers to jobs, and with
/// it what told the planner that each trigger joins exactly one job; autovacuum never analyzes a
/// table of a few rows, so Quartz's acquisition query (triggers joined to their jobs, the first due
/// in order) was planned as if the join returned almost nothing: every due trigger read and sorted,
/// 15-20 ms a call over 15,000 due triggers, where the first in index order costs under 1 ms.
/// </para>
/// </summary>
internal sealed partial class PostgresStatistics(ConnectionFactory connections, ILogger<PostgresStatistics> logger) : BackgroundService
{
    /// <summary>PostgreSQL's SQLSTATE for a missing privilege (42501), as the driver's <see cref="DbException.SqlState"/> gives it.</summary>
    private const string InsufficientPrivilege = "42501";

    /// <summary>Fewer new rows than this never trigger an analyze: small registrations don't move plans.</summary>
    public const int MinimumRows = 1_000;

    /// <summary>
    /// The statistics target of these analyzes (PostgreSQL's default is 100): a sample of 300 times it
    /// rows per table. What the plans this service exists for need is the tables' row counts and the
    /// few values of their state and type columns, which 3,000 sampled rows give; at the default, each
    /// analyze of 100,000 items cost 240-285 ms of a 2-core machine beside the registration that
    /// triggered it, at 10 about 20 ms. Columns with a target of their own keep it, and autovacuum's
    /// later analyzes use the server's default.
    /// </summary>
    public const int StatisticsTarget = 10;

    private const string Analyze = "ANALYZE work_items, qrtz_triggers, qrtz_simple_triggers, qrtz_job_details";

    private readonly SemaphoreSlim _due = new(0, 1);
    private long _pending;
    private long _threshold = MinimumRows;
    private volatile bool _disabled;

    /// <summary>Number of analyzes this node ran (for tests and logs).</summary>
    public int Runs { get; private set; }

    /// <summary>Counts <paramref name="rows"/> newly registered items; wakes the analyzer when enough have accumulated. Never blocks.</summary>
    public void Registered(int rows)
    {
        if (rows <= 0 || _disabled || connections.Provider != StorageProvider.Postgres)
            return;
        if (Interlocked.Add(ref _pending, rows) < Volatile.Read(ref _threshold) || _due.CurrentCount > 0)
            return;
        try
        {
            _due.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another registration woke it first.
        }
    }

    /// <summary>
    /// Analyzes <c>qrtz_job_details</c> (a few rows: about a millisecond), after this node stored its
    /// jobs. Best effort: a failure is logged, never thrown.
    /// </summary>
    public async Task JobsStoredAsync(CancellationToken cancellationToken)
    {
        if (_disabled || connections.Provider != StorageProvider.Postgres)
            return;
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var analyze = connection.Command("ANALYZE qrtz_job_details");
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (DbException e) when (e.SqlState == InsufficientPrivilege)
        {
            _disabled = true;
            NotPermitted(logger, e.Message);
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            Failed(logger, e.Message);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (connections.Provider != StorageProvider.Postgres)
            return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _due.WaitAsync(stoppingToken);
                var rows = Interlocked.Exchange(ref _pending, 0);
                var started = TimeProvider.System.GetTimestamp();
                await using var connection = await connections.OpenAsync(stoppingToken);
                await using (var transaction = await connection.BeginTransactionAsync(stoppingToken))
                {
                    await using var analyze = connection.Command($"SET LOCAL default_statistics_target = {StatisticsTarget}; {Analyze}", transaction);
                    analyze.CommandTimeout = 300;
                    await analyze.ExecuteNonQueryAsync(stoppingToken);
                    await transaction.CommitAsync(stoppingToken);
                }
                await using var size = connection.Command("SELECT reltuples::bigint FROM pg_class WHERE oid = 'work_items'::regclass");
                var tuples = Convert.ToInt64(await size.ExecuteScalarAsync(stoppingToken), System.Globalization.CultureInfo.InvariantCulture);
                Volatile.Write(ref _threshold, Math.Max(MinimumRows, tuples));
                Runs++;
                Analyzed(logger, rows, tuples, TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (DbException e) when (e.SqlState == InsufficientPrivilege)
            {
                _disabled = true;
                NotPermitted(logger, e.Message);
                return;
            }
            catch (Exception e) when (e is DbException or TimeoutException)
            {
                // Best effort: autovacuum still gets there; the next large registration tries again.
                Failed(logger, e.Message);
            }
        }
    }

    [LoggerMessage(1400, LogLevel.Debug, "Analyzed work_items and Quartz's trigger tables after {Rows} new items ({Tuples} items stored) in {Milliseconds:0} ms")]
    private static partial void Analyzed(ILogger logger, long rows, long tuples, double milliseconds);

    [LoggerMessage(1401, LogLevel.Warning, "Could not refresh planner statistics: {Reason}; autovacuum will")]
    private static partial void Failed(ILogger logger, string reason);

    [LoggerMessage(1402, LogLevel.Warning, "Not refreshing planner statistics ({Reason}): the database user does not own the tables; autovacuum will")]
    private static partial void NotPermitted(ILogger logger, string reason);
}

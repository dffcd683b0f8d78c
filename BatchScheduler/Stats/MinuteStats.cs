using System.Collections.Concurrent;
using System.Globalization;
using BatchScheduler.Configuration;
using BatchScheduler.Observability;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Stats;

/// <summary>
/// The per-minute aggregate (<c>stats_minutely</c>) behind the dashboard's charts. Attempts are
/// counted in memory per minute and data type and added to this node's own rows every
/// <see cref="FlushInterval"/>, so the hot path costs a dictionary update and no row is written by
/// two nodes. Once a minute one node (whichever claims the minute first) samples the backlog, the
/// triggers due but not started per data type. Rows older than <c>Retention:MinuteStats</c> are deleted by
/// <see cref="Retention.RetentionPass"/>.
/// </summary>
internal sealed partial class MinuteStats(
    ConnectionFactory connections, NodeIdentity node, IOptions<ClusterOptions> cluster, TimeProvider time, ILogger<MinuteStats> logger)
    : BackgroundService
{
    /// <summary>The pseudo node of the cluster-wide backlog rows.</summary>
    public const string ClusterRow = "*";

    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(long Minute, string DataType), Counts> _pending = new();
    private long _sampledMinute;

    /// <summary>
    /// Counts one settled firing in the minute it settled (called through <see cref="SchedulerMetrics.AttemptFinished"/>);
    /// the times are null when the executor was not called.
    /// </summary>
    public void Record(string dataType, FiringOutcome outcome, TimeSpan? dueToStart, TimeSpan? duration)
    {
        var key = (MinuteOf(time.GetUtcNow()), dataType);
        while (!_pending.GetOrAdd(key, _ => new Counts()).TryAdd(outcome, dueToStart, duration))
        {
            // A flush took that entry meanwhile: count into the next one.
        }
    }

    /// <summary>Unix milliseconds of the minute <paramref name="at"/> falls in.</summary>
    public static long MinuteOf(DateTimeOffset at) => at.ToUnixTimeMilliseconds() / 60_000 * 60_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(FlushInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await RoundAsync(stoppingToken);
        }
        await FlushAsync(CancellationToken.None);
    }

    /// <summary>Writes what was counted and takes the minute's backlog sample if no node has.</summary>
    public async Task RoundAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
            await SampleBacklogAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException
                                   && !cancellationToken.IsCancellationRequested)
        {
            WriteFailed(logger, ex.Message);
        }
    }

    /// <summary>Adds the counted attempts to this node's rows; what cannot be written stays counted for the next flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var taken = new List<((long Minute, string DataType) Key, Snapshot Values)>();
        foreach (var key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out var counts))
                taken.Add((key, counts.Take()));
        }
        if (taken.Count == 0)
            return;
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            foreach (var ((minute, dataType), v) in taken)
            {
                await using var command = connection.Command(connections.Provider == StorageProvider.SqlServer ? SqlServerUpsert : Upsert, transaction)
                    .With("@m", minute).With("@d", dataType).With("@n", node.Id)
                    .With("@executions", v.Executions).With("@succeeded", v.Succeeded).With("@failed", v.Failed)
                    .With("@deadLettered", v.DeadLettered).With("@expired", v.Expired).With("@deferred", v.Deferred)
                    .With("@delayCount", v.DelayCount).With("@delaySum", v.DelaySumMs).With("@delayMax", v.DelayMaxMs)
                    .With("@durationSum", v.DurationSumMs).With("@durationMax", v.DurationMaxMs);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        catch
        {
            foreach (var (key, values) in taken)
            {
                while (!_pending.GetOrAdd(key, _ => new Counts()).TryMerge(values))
                {
                }
            }
            throw;
        }
    }

    private Task SampleBacklogAsync(CancellationToken cancellationToken)
    {
        var minute = MinuteOf(time.GetUtcNow());
        return minute == _sampledMinute ? Task.CompletedTask : SampleBacklogAsync(minute, cancellationToken);
    }

    /// <summary>Counts the triggers due now into <paramref name="minute"/>'s backlog rows, unless a node already claimed that minute.</summary>
    internal async Task SampleBacklogAsync(long minute, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var claim = connection.Command(connections.Provider == StorageProvider.SqlServer ? SqlServerClaim : Claim, transaction)
            .With("@m", minute).With("@d", ClusterRow).With("@n", ClusterRow))
        {
            if (await claim.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                _sampledMinute = minute; // another node sampled this minute
                return;
            }
        }
        var backlog = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var count = connection.Command(
            """
            SELECT trigger_group, COUNT(*) FROM qrtz_triggers
            WHERE sched_name = @sched AND trigger_state = 'WAITING' AND next_fire_time <= @nowTicks
            GROUP BY trigger_group
            """, transaction).With("@sched", cluster.Value.SchedulerName).With("@nowTicks", now.UtcTicks))
        {
            await using var reader = await count.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                backlog[reader.GetString(0)] = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
        }
        foreach (var (dataType, due) in backlog)
        {
            await using var insert = connection.Command(
                "INSERT INTO stats_minutely (minute_start, data_type, node_id, backlog) VALUES (@m, @d, @n, @b)", transaction)
                .With("@m", minute).With("@d", dataType).With("@n", ClusterRow).With("@b", due);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        _sampledMinute = minute;
    }

    private const string Upsert =
        """
        INSERT INTO stats_minutely (minute_start, data_type, node_id, executions, succeeded, failed, dead_lettered, expired, deferred,
                                    delay_count, delay_sum_ms, delay_max_ms, duration_sum_ms, duration_max_ms)
        VALUES (@m, @d, @n, @executions, @succeeded, @failed, @deadLettered, @expired, @deferred,
                @delayCount, @delaySum, @delayMax, @durationSum, @durationMax)
        ON CONFLICT (minute_start, data_type, node_id) DO UPDATE SET
          executions = stats_minutely.executions + excluded.executions,
          succeeded = stats_minutely.succeeded + excluded.succeeded,
          failed = stats_minutely.failed + excluded.failed,
          dead_lettered = stats_minutely.dead_lettered + excluded.dead_lettered,
          expired = stats_minutely.expired + excluded.expired,
          deferred = stats_minutely.deferred + excluded.deferred,
          delay_count = stats_minutely.delay_count + excluded.delay_count,
          delay_sum_ms = stats_minutely.delay_sum_ms + excluded.delay_sum_ms,
          delay_max_ms = CASE WHEN excluded.delay_max_ms > stats_minutely.delay_max_ms THEN excluded.delay_max_ms ELSE stats_minutely.delay_max_ms END,
          duration_sum_ms = stats_minutely.duration_sum_ms + excluded.duration_sum_ms,
          duration_max_ms = CASE WHEN excluded.duration_max_ms > stats_minutely.duration_max_ms THEN excluded.duration_max_ms ELSE stats_minutely.duration_max_ms END
        """;

    private const string SqlServerUpsert =
        """
        MERGE stats_minutely WITH (HOLDLOCK) AS t
        USING (VALUES (@m, @d, @n)) AS s (minute_start, data_type, node_id)
        ON t.minute_start = s.minute_start AND t.data_type = s.data_type AND t.node_id = s.node_id
        WHEN MATCHED THEN UPDATE SET
          executions = t.executions + @executions, succeeded = t.succeeded + @succeeded, failed = t.failed + @failed,
          dead_lettered = t.dead_lettered + @deadLettered, expired = t.expired + @expired, deferred = t.deferred + @deferred,
          delay_count = t.delay_count + @delayCount, delay_sum_ms = t.delay_sum_ms + @delaySum,
          delay_max_ms = CASE WHEN @delayMax > t.delay_max_ms THEN @delayMax ELSE t.delay_max_ms END,
          duration_sum_ms = t.duration_sum_ms + @durationSum,
          duration_max_ms = CASE WHEN @durationMax > t.duration_max_ms THEN @durationMax ELSE t.duration_max_ms END
        WHEN NOT MATCHED THEN INSERT (minute_start, data_type, node_id, executions, succeeded, failed, dead_lettered, expired, deferred,
                                      delay_count, delay_sum_ms, delay_max_ms, duration_sum_ms, duration_max_ms)
             VALUES (@m, @d, @n, @executions, @succeeded, @failed, @deadLettered, @expired, @deferred,
                     @delayCount, @delaySum, @delayMax, @durationSum, @durationMax);
        """;

    /// <summary>Inserts the key row (@m, @d, @n) unless it exists: one affected row means this node claimed it.</summary>
    internal const string Claim =
        "INSERT INTO stats_minutely (minute_start, data_type, node_id) VALUES (@m, @d, @n) ON CONFLICT (minute_start, data_type, node_id) DO NOTHING";

    /// <summary><see cref="Claim"/> for SQL Server.</summary>
    internal const string SqlServerClaim =
        """
        IF NOT EXISTS (SELECT 1 FROM stats_minutely WITH (UPDLOCK, HOLDLOCK) WHERE minute_start = @m AND data_type = @d AND node_id = @n)
          INSERT INTO stats_minutely (minute_start, data_type, node_id) VALUES (@m, @d, @n)
        """;

    [LoggerMessage(1600, LogLevel.Warning, "The per-minute statistics could not be written: {Reason}; kept for the next flush")]
    private static partial void WriteFailed(ILogger logger, string reason);

    /// <summary>One minute's counts for one data type on this node, updated from many threads.</summary>
    private sealed class Counts
    {
        private readonly Lock _lock = new();
        private Snapshot _values;

        private bool _taken;

        /// <summary>Counts the attempt; false once a flush has taken these counts.</summary>
        public bool TryAdd(FiringOutcome outcome, TimeSpan? dueToStart, TimeSpan? duration)
        {
            // Expired and deferred firings count, but not as executions (their times, if any, are not the executor's).
            var ran = outcome is FiringOutcome.Succeeded or FiringOutcome.Failed or FiringOutcome.DeadLettered ? 1 : 0;
            var delayMs = ran * (long)Math.Max(0, (dueToStart ?? TimeSpan.Zero).TotalMilliseconds);
            var durationMs = ran * (long)Math.Max(0, (duration ?? TimeSpan.Zero).TotalMilliseconds);
            lock (_lock)
            {
                if (_taken)
                    return false;
                var v = _values;
                _values = v with
                {
                    Executions = v.Executions + ran,
                    Succeeded = v.Succeeded + (outcome == FiringOutcome.Succeeded ? 1 : 0),
                    Failed = v.Failed + (outcome is FiringOutcome.Failed or FiringOutcome.DeadLettered ? 1 : 0),
                    DeadLettered = v.DeadLettered + (outcome == FiringOutcome.DeadLettered ? 1 : 0),
                    Expired = v.Expired + (outcome == FiringOutcome.Expired ? 1 : 0),
                    Deferred = v.Deferred + (outcome == FiringOutcome.Deferred ? 1 : 0),
                    DelayCount = v.DelayCount + ran,
                    DelaySumMs = v.DelaySumMs + delayMs,
                    DelayMaxMs = Math.Max(v.DelayMaxMs, delayMs),
                    DurationSumMs = v.DurationSumMs + durationMs,
                    DurationMaxMs = Math.Max(v.DurationMaxMs, durationMs),
                };
                return true;
            }
        }

        public bool TryMerge(Snapshot other)
        {
            lock (_lock)
            {
                if (_taken)
                    return false;
                _values = _values.Plus(other);
                return true;
            }
        }

        public Snapshot Take()
        {
            lock (_lock)
            {
                _taken = true;
                return _values;
            }
        }
    }

    /// <summary>Counts of attempts: see the columns of <c>stats_minutely</c>.</summary>
    private readonly record struct Snapshot(
        int Executions, int Succeeded, int Failed, int DeadLettered, int Expired, int Deferred,
        int DelayCount, long DelaySumMs, long DelayMaxMs, long DurationSumMs, long DurationMaxMs)
    {
        public Snapshot Plus(Snapshot o) => new(
            Executions + o.Executions, Succeeded + o.Succeeded, Failed + o.Failed, DeadLettered + o.DeadLettered, Expired + o.Expired,
            Deferred + o.Deferred, DelayCount + o.DelayCount, DelaySumMs + o.DelaySumMs, Math.Max(DelayMaxMs, o.DelayMaxMs),
            DurationSumMs + o.DurationSumMs, Math.Max(DurationMaxMs, o.DurationMaxMs));
    }
}

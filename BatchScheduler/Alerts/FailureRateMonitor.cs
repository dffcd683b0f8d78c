using BatchScheduler.Configuration;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Alerts;

/// <summary>
/// Once a minute, compares each data type's failed ÷ executions over <see cref="AlertOptions.FailureRateWindow"/>
/// (the per-minute aggregate, summed over the cluster's nodes) with the threshold, and sends one
/// <c>failure_rate</c> alert when it is reached, then nothing until the rate is back under the
/// threshold (<c>failure_rate_recovered</c>), after which it may alert again.
/// </summary>
/// <remarks>
/// Every node runs the check; one sends. The alert state lives in <c>stats_minutely</c> as claim rows
/// with node <c>*</c>: <c>alert:&lt;type&gt;</c> when an alert was sent, <c>alert-recovered:&lt;type&gt;</c> when
/// a recovery was, keyed by minute. A data type is alerting when its newest alert row is newer than
/// its newest recovery row. A transition is claimed with the same conditional insert the backlog
/// sample uses (INSERT … ON CONFLICT DO NOTHING; a locked IF NOT EXISTS on SQL Server): whichever node
/// inserts the minute's row sends, the others see it in the next check. No new table or lock is needed,
/// and the checks run at second 30 of each minute on every node, so nodes that see the same transition
/// claim the same minute (only clocks more than ~30 s apart could both send). The rows are pruned
/// with the aggregate after 7 days, so an episode that lasts longer alerts again as a reminder.
/// </remarks>
internal sealed class FailureRateMonitor(
    ConnectionFactory connections, StatsQuery stats, AlertSender sender, NodeIdentity node, IOptions<AlertOptions> options,
    TimeProvider time, ILogger<FailureRateMonitor> logger) : BackgroundService
{
    public const string AlertPrefix = "alert:";
    public const string RecoveredPrefix = "alert-recovered:";

    /// <summary>Where in each minute the checks run, on every node.</summary>
    public static readonly TimeSpan CheckOffset = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
            return;
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var next = DateTimeOffset.FromUnixTimeMilliseconds(MinuteStats.MinuteOf(now)) + CheckOffset;
            if (next <= now)
                next = next.AddMinutes(1);
            try
            {
                await Task.Delay(next - now, time, stoppingToken);
                await CheckAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
            {
                CheckFailed(ex);
            }
        }
    }

    private void CheckFailed(Exception ex) => AlertLog.CheckFailed(logger, ex.Message);

    /// <summary>One check of every data type; returns how many alerts this node claimed and queued.</summary>
    public async Task<int> CheckAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.Enabled)
            return 0;
        var now = time.GetUtcNow();
        var rows = await stats.MinutelyAsync(null, now - o.FailureRateWindow, now.AddMinutes(1), cancellationToken);
        var totals = rows.GroupBy(r => r.DataType, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (Failed: g.Sum(r => r.Failed), Executions: g.Sum(r => r.Executions)), StringComparer.Ordinal);
        var alerting = await AlertingDataTypesAsync(cancellationToken);
        var minute = MinuteStats.MinuteOf(now);
        var sent = 0;
        foreach (var dataType in totals.Keys.Union(alerting, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var (failed, executions) = totals.GetValueOrDefault(dataType);
            var rate = executions == 0 ? 0 : (double)failed / executions;
            var isAlerting = alerting.Contains(dataType);
            if (!isAlerting && executions >= o.FailureRateMinExecutions && rate >= o.FailureRateThreshold)
            {
                if (!await ClaimAsync(minute, AlertPrefix + dataType, cancellationToken))
                    continue;
                AlertLog.RateAlert(logger, dataType, rate, failed, executions, o.FailureRateWindow, o.FailureRateThreshold, node.Id);
                sender.Enqueue(AlertMessage.ForFailureRate(
                    AlertMessage.FailureRate, dataType, failed, executions, rate, o.FailureRateWindow, o.FailureRateThreshold, now));
                sent++;
            }
            else if (isAlerting && rate < o.FailureRateThreshold)
            {
                if (!await ClaimAsync(minute, RecoveredPrefix + dataType, cancellationToken))
                    continue;
                AlertLog.RateRecovered(logger, dataType, o.FailureRateThreshold, failed, executions, o.FailureRateWindow, node.Id);
                sender.Enqueue(AlertMessage.ForFailureRate(
                    AlertMessage.FailureRateRecovered, dataType, failed, executions, rate, o.FailureRateWindow, o.FailureRateThreshold, now));
                sent++;
            }
        }
        return sent;
    }

    /// <summary>Data types whose newest alert row is newer than their newest recovery row.</summary>
    private async Task<HashSet<string>> AlertingDataTypesAsync(CancellationToken cancellationToken)
    {
        var alerts = new Dictionary<string, long>(StringComparer.Ordinal);
        var recoveries = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT data_type, MAX(minute_start) FROM stats_minutely
            WHERE node_id = @n AND (data_type LIKE @alert OR data_type LIKE @recovered)
            GROUP BY data_type
            """).With("@n", MinuteStats.ClusterRow).With("@alert", AlertPrefix + "%").With("@recovered", RecoveredPrefix + "%");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = reader.GetString(0);
            var latest = reader.GetInt64(1);
            if (key.StartsWith(AlertPrefix, StringComparison.Ordinal))
                alerts[key[AlertPrefix.Length..]] = latest;
            else
                recoveries[key[RecoveredPrefix.Length..]] = latest;
        }
        return alerts.Where(a => a.Value > recoveries.GetValueOrDefault(a.Key, long.MinValue)).Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
    }

    private async Task<bool> ClaimAsync(long minute, string row, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var claim = connection.Command(connections.Provider == StorageProvider.SqlServer ? MinuteStats.SqlServerClaim : MinuteStats.Claim)
            .With("@m", minute).With("@d", row).With("@n", MinuteStats.ClusterRow);
        return await claim.ExecuteNonQueryAsync(cancellationToken) > 0;
    }
}

using System.Globalization;
using BatchScheduler.Storage;

namespace BatchScheduler.Stats;

/// <summary>One minute of one data type, summed over nodes.</summary>
internal sealed record MinuteRow(
    DateTimeOffset Minute, string DataType, int Executions, int Succeeded, int Failed, int DeadLettered, int Expired, int Deferred,
    double? DelayAvgMs, long DelayMaxMs, double? DurationAvgMs, long DurationMaxMs, int? Backlog);

/// <summary>Reads the per-minute aggregate (<c>stats_minutely</c>): a range scan of its key, never the hot tables.</summary>
internal sealed class StatsQuery(ConnectionFactory connections)
{
    public async Task<IReadOnlyList<MinuteRow>> MinutelyAsync(string? dataType, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        // Rows whose data_type holds ':' are the alerts' once-per-cluster claims (FailureRateMonitor), not data types: names cannot contain ':'.
        await using var command = connection.Command(
            """
            SELECT minute_start, data_type,
                   SUM(executions) AS executions, SUM(succeeded) AS succeeded, SUM(failed) AS failed, SUM(dead_lettered) AS dead_lettered,
                   SUM(expired) AS expired, SUM(deferred) AS deferred, SUM(delay_count) AS delay_count, SUM(delay_sum_ms) AS delay_sum_ms,
                   MAX(delay_max_ms) AS delay_max_ms, SUM(duration_sum_ms) AS duration_sum_ms, MAX(duration_max_ms) AS duration_max_ms,
                   MAX(backlog) AS backlog
            FROM stats_minutely
            WHERE minute_start >= @from AND minute_start < @to AND data_type <> '*' AND data_type NOT LIKE '%:%' AND (@dataType IS NULL OR data_type = @dataType)
            GROUP BY minute_start, data_type
            ORDER BY minute_start, data_type
            """).With("@from", MinuteStats.MinuteOf(from)).With("@to", to.ToUnixTimeMilliseconds()).With("@dataType", dataType);
        var rows = new List<MinuteRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            long Long(string column) => reader.IsDBNull(reader.GetOrdinal(column)) ? 0 : reader.GetInt64(column);
            var executions = (int)Long("executions");
            var delayCount = Long("delay_count");
            rows.Add(new MinuteRow(
                DateTimeOffset.FromUnixTimeMilliseconds(Long("minute_start")), reader.GetString(1), executions, (int)Long("succeeded"),
                (int)Long("failed"), (int)Long("dead_lettered"), (int)Long("expired"), (int)Long("deferred"),
                delayCount > 0 ? (double)Long("delay_sum_ms") / delayCount : null, Long("delay_max_ms"),
                executions > 0 ? (double)Long("duration_sum_ms") / executions : null, Long("duration_max_ms"),
                reader.IsDBNull(reader.GetOrdinal("backlog")) ? null : Convert.ToInt32(reader.GetValue(reader.GetOrdinal("backlog")), CultureInfo.InvariantCulture)));
        }
        return rows;
    }
}

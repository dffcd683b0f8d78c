using BatchScheduler.Storage;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Health;

/// <summary>The answer of <c>GET /api/health</c>; <see cref="CountedAt"/> is when the item counts were read.</summary>
internal sealed record HealthSummary(
    long Running,
    long Failures24h,
    IReadOnlyList<DataTypeHealth> DataTypes,
    IReadOnlyDictionary<string, long> Tiers,
    IReadOnlyList<NodeStatus> Nodes,
    DateTimeOffset CountedAt);

/// <summary>Counts for one data type; <see cref="CompletionPercent"/> is completed / total.</summary>
internal sealed record DataTypeHealth(string DataType, long Total, IReadOnlyDictionary<string, long> States, double CompletionPercent);

/// <summary>
/// Computes the health summary from <c>work_items</c>, <c>failures</c> and Quartz's check-ins.
/// </summary>
/// <remarks>
/// The item counts are one pass over <c>work_items</c>' (data type, state, tier) index, whose cost grows with the
/// store: about 0.14 s at 1,000,000 items and 0.4 s at 3,000,000 on PostgreSQL here. While a count takes less than
/// <see cref="LiveCountBudget"/>, every answer counts afresh. Once one takes longer, answers give the last count
/// (<see cref="HealthSummary.CountedAt"/> says when it was read) and a count older than <see cref="MaxAge"/> of its
/// own duration is refreshed in the background, one at a time, so a large store's summary answers at once and is
/// at most seconds old. Failures, running nodes and check-ins are read on every answer.
/// </remarks>
internal sealed partial class HealthQuery(ConnectionFactory connections, DataTypeCatalog catalog, NodeStatusQuery nodes, TimeProvider time, ILogger<HealthQuery> logger)
{
    /// <summary>Tier key used for items registered without a tier.</summary>
    public const string NoTier = "(none)";

    /// <summary>A count quicker than this is made for every answer.</summary>
    public static readonly TimeSpan LiveCountBudget = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private ItemCounts? _last;
    private Task? _refreshing;

    /// <summary>For tests: the count duration from which answers give the last count (default <see cref="LiveCountBudget"/>).</summary>
    internal TimeSpan LiveBudget { get; set; } = LiveCountBudget;

    /// <summary>How old a slow count may be before it is refreshed: 20 times its duration, from 5 s to 60 s.</summary>
    public static TimeSpan MaxAge(TimeSpan countDuration) =>
        TimeSpan.FromTicks(Math.Clamp(countDuration.Ticks * 20, TimeSpan.FromSeconds(5).Ticks, TimeSpan.FromSeconds(60).Ticks));

    public async Task<HealthSummary> GetAsync(CancellationToken cancellationToken)
    {
        var counts = await CountsAsync(cancellationToken);
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var failures = connection.Command("SELECT COUNT(*) FROM failures WHERE failed_at >= @since")
            .With("@since", time.GetUtcNow().AddHours(-24));
        var failures24h = Convert.ToInt64(await failures.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

        var dataTypes = counts.States.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var total = kv.Value.Values.Sum();
            var completed = kv.Value[WorkItemStates.Completed];
            return new DataTypeHealth(kv.Key, total, kv.Value, total == 0 ? 0 : Math.Round(100.0 * completed / total, 1));
        }).ToList();
        var running = dataTypes.Sum(d => d.States[WorkItemStates.InFlight]);
        return new HealthSummary(running, failures24h, dataTypes, counts.Tiers, await nodes.ListAsync(cancellationToken), counts.At);
    }

    /// <summary>The item counts this answer gives: counted now, or the last slow count (refreshed in the background when old).</summary>
    private async Task<ItemCounts> CountsAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_last is { } last && last.Took >= LiveBudget)
            {
                if (time.GetUtcNow() - last.At > MaxAge(last.Took) && _refreshing is not { IsCompleted: false })
                    _refreshing = Task.Run(RefreshAsync, CancellationToken.None);
                return last;
            }
        }
        var counts = await CountAsync(cancellationToken);
        lock (_gate)
        {
            if (_last is null || counts.At >= _last.At)
                _last = counts;
        }
        return counts;
    }

    private async Task RefreshAsync()
    {
        try
        {
            var counts = await CountAsync(CancellationToken.None);
            lock (_gate)
                _last = counts;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            RefreshFailed(logger, ex); // the last count stays, with its time; the next answer tries again
        }
    }

    /// <summary>One pass over work_items for both breakdowns (the summary's whole cost on a large store).</summary>
    private async Task<ItemCounts> CountAsync(CancellationToken cancellationToken)
    {
        var at = time.GetUtcNow();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var states = catalog.All.ToDictionary(d => d.Name, _ => EmptyStates(), StringComparer.Ordinal);
        var tiers = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var groups = new List<CountGroup>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using (var command = connection.Command("SELECT data_type, state, tier, COUNT(*) AS n FROM work_items GROUP BY data_type, state, tier"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var n = reader.GetInt64("n");
                var byState = states.TryGetValue(reader.GetString(0), out var s) ? s : states[reader.GetString(0)] = EmptyStates();
                byState[reader.GetString(1)] += n;
                var tier = reader.IsDBNull(2) ? null : reader.GetString(2);
                tiers[tier ?? NoTier] = tiers.GetValueOrDefault(tier ?? NoTier) + n;
                groups.Add(new CountGroup(reader.GetString(0), reader.GetString(1), tier, n));
            }
        }
        return new ItemCounts(at, clock.Elapsed, states, tiers, groups);
    }

    private static Dictionary<string, long> EmptyStates() =>
        WorkItemStates.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);

    [LoggerMessage(2160, LogLevel.Warning, "Refreshing the health summary's item counts failed; the last counts stay")]
    private static partial void RefreshFailed(ILogger logger, Exception exception);

    /// <summary>
    /// How many items match a listing's filters (each optional; a null tier matches any), from the same counts as the
    /// summary: exact while counting is quick, otherwise the last count (at most seconds old).
    /// </summary>
    public async Task<long> CountMatchingAsync(string? dataType, string? state, string? tier, CancellationToken cancellationToken) =>
        (await CountsAsync(cancellationToken)).Groups
            .Where(g => (dataType is null || g.DataType == dataType) && (state is null || g.State == state) && (tier is null || g.Tier == tier))
            .Sum(g => g.Count);

    private sealed record CountGroup(string DataType, string State, string? Tier, long Count);

    /// <summary>Item counts read at <paramref name="At"/>, which took <paramref name="Took"/>.</summary>
    private sealed record ItemCounts(
        DateTimeOffset At, TimeSpan Took, Dictionary<string, Dictionary<string, long>> States, SortedDictionary<string, long> Tiers, List<CountGroup> Groups);
}

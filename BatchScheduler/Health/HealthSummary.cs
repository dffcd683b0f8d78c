using BatchScheduler.Storage;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Health;

/// <summary>The answer of <c>GET /api/health</c>.</summary>
internal sealed record HealthSummary(
    long Running,
    long Failures24h,
    IReadOnlyList<DataTypeHealth> DataTypes,
    IReadOnlyDictionary<string, long> Tiers,
    IReadOnlyList<NodeStatus> Nodes);

/// <summary>Counts for one data type; <see cref="CompletionPercent"/> is completed / total.</summary>
internal sealed record DataTypeHealth(string DataType, long Total, IReadOnlyDictionary<string, long> States, double CompletionPercent);

/// <summary>Computes the health summary from <c>work_items</c>, <c>failures</c> and Quartz's check-ins.</summary>
internal sealed class HealthQuery(ConnectionFactory connections, DataTypeCatalog catalog, NodeStatusQuery nodes, TimeProvider time)
{
    /// <summary>Tier key used for items registered without a tier.</summary>
    public const string NoTier = "(none)";

    public async Task<HealthSummary> GetAsync(CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var states = catalog.All.ToDictionary(d => d.Name, _ => EmptyStates(), StringComparer.Ordinal);
        var tiers = new SortedDictionary<string, long>(StringComparer.Ordinal);

        // One pass over work_items for both breakdowns (it is the query's whole cost at 1,000,000 items).
        await using (var command = connection.Command("SELECT data_type, state, tier, COUNT(*) AS n FROM work_items GROUP BY data_type, state, tier"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var n = reader.GetInt64("n");
                var byState = states.TryGetValue(reader.GetString(0), out var s) ? s : states[reader.GetString(0)] = EmptyStates();
                byState[reader.GetString(1)] += n;
                var tier = reader.IsDBNull(2) ? NoTier : reader.GetString(2);
                tiers[tier] = tiers.GetValueOrDefault(tier) + n;
            }
        }
        await using var failures = connection.Command("SELECT COUNT(*) FROM failures WHERE failed_at >= @since")
            .With("@since", time.GetUtcNow().AddHours(-24));
        var failures24h = Convert.ToInt64(await failures.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

        var dataTypes = states.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var total = kv.Value.Values.Sum();
            var completed = kv.Value[WorkItemStates.Completed];
            return new DataTypeHealth(kv.Key, total, kv.Value, total == 0 ? 0 : Math.Round(100.0 * completed / total, 1));
        }).ToList();
        var running = dataTypes.Sum(d => d.States[WorkItemStates.InFlight]);
        return new HealthSummary(running, failures24h, dataTypes, tiers, await nodes.ListAsync(cancellationToken));
    }

    private static Dictionary<string, long> EmptyStates() =>
        WorkItemStates.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
}

using System.Data.Common;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Retention;

/// <summary>
/// One pass of retention over the bounded tables: failure rows, the per-minute aggregate, the audit trail (by age,
/// <see cref="RetentionOptions"/>) and each data type's completed one-shot items (<c>DataTypes:&lt;name&gt;:Retention:Completed</c>,
/// through the lifecycle's <see cref="ItemLifecycle.PurgeAsync"/>). Rows go in chunks of at most
/// <see cref="RetentionOptions.ChunkSize"/>, each statement its own short transaction, until a table has nothing older
/// left. Nodes may run passes at once: a row is deleted once, and a statement that finds it gone deletes nothing.
/// </summary>
internal sealed partial class RetentionPass(
    ConnectionFactory connections, DataTypeCatalog catalog, ItemLifecycle lifecycle, IOptions<RetentionOptions> options,
    IOptions<ClusterOptions> cluster, RetentionMetrics metrics, TimeProvider time, ILogger<RetentionPass> logger)
{
    /// <summary>Most items deleted under their locks at once: as many as registration arms at once.</summary>
    public const int MaxItemsPerChunk = 1000;

    /// <summary>Deletes what has aged out; returns the rows deleted per table.</summary>
    public async Task<IReadOnlyDictionary<string, long>> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var o = options.Value;
        var deleted = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["failures"] = await DeleteChunksAsync("failures", "id", "done = @yes AND done_at < @before",
                    c => c.With("@yes", true).With("@before", now - o.Failures.Done), now - o.Failures.Done, cancellationToken)
                + await DeleteChunksAsync("failures", "id", "done = @no AND failed_at < @before",
                    c => c.With("@no", false).With("@before", now - o.Failures.Open), now - o.Failures.Open, cancellationToken),
            ["stats_minutely"] = await DeleteChunksAsync("stats_minutely", "minute_start, data_type, node_id", "minute_start < @before",
                c => c.With("@before", MinuteStats.MinuteOf(now - o.MinuteStats)), now - o.MinuteStats, cancellationToken),
            ["audit_log"] = await DeleteChunksAsync("audit_log", "id", "recorded_at < @before",
                c => c.With("@before", now - o.Audit), now - o.Audit, cancellationToken),
            ["work_items"] = await PurgeCompletedItemsAsync(now, cancellationToken),
        };
        return deleted;
    }

    /// <summary>Deletes rows of <paramref name="table"/> matching <paramref name="condition"/> a chunk at a time, until a chunk comes back short.</summary>
    private async Task<long> DeleteChunksAsync(
        string table, string key, string condition, Func<DbCommand, DbCommand> parameters, DateTimeOffset before,
        CancellationToken cancellationToken)
    {
        var chunk = options.Value.ChunkSize;
        var sql = connections.Dialect.DeleteChunk(table, key, condition);
        long total = 0;
        int deleted;
        do
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = parameters(connection.Command(sql)).With("@chunk", chunk);
            deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
        }
        while (deleted >= chunk && !cancellationToken.IsCancellationRequested);
        Finished(table, null, total, before);
        return total;
    }

    /// <summary>Each data type with a <c>Retention:Completed</c>: its aged-out completed one-shot items, a chunk at a time under their locks.</summary>
    private async Task<long> PurgeCompletedItemsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var chunk = Math.Min(options.Value.ChunkSize, MaxItemsPerChunk);
        long total = 0;
        foreach (var dataType in catalog.All.Where(d => d.Options.Retention.Completed is not null).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var oneShotTiers = dataType.Options.Cadence.Keys.Where(t => t != Tiers.Exclude && dataType.CadenceOf(t) is null).Order(StringComparer.Ordinal).ToList();
            var agedOut = new AgedOutCompleted(dataType.Name, oneShotTiers, now - dataType.Options.Retention.Completed!.Value, cluster.Value.SchedulerName);
            long deleted = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var candidates = await CandidatesAsync(agedOut, chunk, cancellationToken);
                var purged = await lifecycle.PurgeAsync(agedOut, candidates, cancellationToken);
                deleted += purged;
                // A short chunk was the last; one whose items all changed meanwhile is left to the next pass.
                if (candidates.Count < chunk || purged == 0)
                    break;
            }
            Finished("work_items", dataType.Name, deleted, agedOut.Before);
            total += deleted;
        }
        return total;
    }

    private async Task<IReadOnlyList<string>> CandidatesAsync(AgedOutCompleted agedOut, int chunk, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = agedOut.Parameters(connection.Command(
            $"SELECT work_items.entity_id FROM work_items WHERE {agedOut.Condition} ORDER BY work_items.entity_id {connections.Dialect.Page("@offset", "@chunk")}"))
            .With("@dataType", agedOut.DataType).With("@offset", 0).With("@chunk", chunk);
        var ids = new List<string>(chunk);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            ids.Add(reader.GetString(0));
        return ids;
    }

    private void Finished(string table, string? dataType, long deleted, DateTimeOffset before)
    {
        metrics.Deleted(table, deleted);
        if (deleted == 0)
            return;
        if (dataType is null)
            DeletedLog(logger, deleted, table, before);
        else
            PurgedLog(logger, deleted, dataType, before);
    }

    [LoggerMessage(2400, LogLevel.Information, "Retention deleted {Count} rows of {Table} older than {Before:O}")]
    private static partial void DeletedLog(ILogger logger, long count, string table, DateTimeOffset before);

    [LoggerMessage(2401, LogLevel.Information, "Retention deleted {Count} completed one-shot {DataType} items unchanged since {Before:O}")]
    private static partial void PurgedLog(ILogger logger, long count, string dataType, DateTimeOffset before);
}

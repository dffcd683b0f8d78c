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

    /// <summary>Deletes what has aged out; returns, per table, the rows deleted and the chunks it took.</summary>
    public async Task<IReadOnlyDictionary<string, Deleted>> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var o = options.Value;
        var done = now - o.Failures.Done;
        var open = now - o.Failures.Open;
        var minutes = now - o.MinuteStats;
        var audit = now - o.Audit;
        return new Dictionary<string, Deleted>(StringComparer.Ordinal)
        {
            ["failures"] = await DeleteChunksAsync("failures", "id", "done = @yes AND done_at < @before",
                    c => c.With("@yes", true).With("@before", done), done, cancellationToken)
                + await DeleteChunksAsync("failures", "id", "done = @no AND failed_at < @before",
                    c => c.With("@no", false).With("@before", open), open, cancellationToken),
            ["stats_minutely"] = await DeleteChunksAsync("stats_minutely", "minute_start, data_type, node_id", "minute_start < @before",
                c => c.With("@before", MinuteStats.MinuteOf(minutes)), minutes, cancellationToken),
            ["audit_log"] = await DeleteChunksAsync("audit_log", "id", "recorded_at < @before", c => c.With("@before", audit), audit, cancellationToken),
            ["work_items"] = await PurgeCompletedItemsAsync(now, cancellationToken),
        };
    }

    /// <summary>Deletes rows of <paramref name="table"/> matching <paramref name="condition"/> a chunk at a time, until a chunk comes back short.</summary>
    private async Task<Deleted> DeleteChunksAsync(
        string table, string key, string condition, Func<DbCommand, DbCommand> parameters, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var chunk = options.Value.ChunkSize;
        var sql = connections.Dialect.DeleteChunk(table, key, condition);
        var total = Deleted.None;
        int rows;
        do
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = parameters(connection.Command(sql)).With("@chunk", chunk);
            rows = await command.ExecuteNonQueryAsync(cancellationToken);
            total += new Deleted(rows, 1);
        }
        while (rows >= chunk && !cancellationToken.IsCancellationRequested);
        Finished(table, null, total.Rows, before);
        return total;
    }

    /// <summary>Each data type with a <c>Retention:Completed</c>: its aged-out completed one-shot items, a chunk at a time under their locks.</summary>
    private async Task<Deleted> PurgeCompletedItemsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var chunk = Math.Min(options.Value.ChunkSize, MaxItemsPerChunk);
        var total = Deleted.None;
        foreach (var dataType in catalog.All.Where(d => d.Options.Retention.Completed is not null).OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var oneShotTiers = dataType.Options.Cadence.Keys.Where(t => t != Tiers.Exclude && dataType.CadenceOf(t) is null).Order(StringComparer.Ordinal).ToList();
            var agedOut = new AgedOutCompleted(dataType.Name, oneShotTiers, now - dataType.Options.Retention.Completed!.Value, cluster.Value.SchedulerName);
            var deleted = Deleted.None;
            while (!cancellationToken.IsCancellationRequested)
            {
                var candidates = await CandidatesAsync(agedOut, chunk, cancellationToken);
                var purged = await lifecycle.PurgeAsync(agedOut, candidates, cancellationToken);
                deleted += new Deleted(purged, 1);
                // A short chunk was the last; one whose items all changed meanwhile is left to the next pass.
                if (candidates.Count < chunk || purged == 0)
                    break;
            }
            Finished("work_items", dataType.Name, deleted.Rows, agedOut.Before);
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

/// <summary>What retention deleted from a table: rows, and the chunks (statements, or item chunks under their locks) it took.</summary>
internal readonly record struct Deleted(long Rows, int Chunks)
{
    public static readonly Deleted None = new(0, 0);

    public static Deleted operator +(Deleted a, Deleted b) => new(a.Rows + b.Rows, a.Chunks + b.Chunks);
}

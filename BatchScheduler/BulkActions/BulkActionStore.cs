using System.Data.Common;
using System.Globalization;
using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.BulkActions;

/// <summary>
/// The <c>bulk_actions</c> table (an action's record and progress) and the reads of <c>work_items</c> a bulk
/// action makes: one count of the matching items, then chunks of them in (data type, entity id) order.
/// </summary>
internal sealed class BulkActionStore(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
{
    private readonly string _schedulerName = cluster.Value.SchedulerName;

    /// <summary>How many items match <paramref name="filter"/> now.</summary>
    public async Task<long> CountAsync(BulkActionFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = Filtered(connection, $"SELECT COUNT(*) FROM work_items w WHERE {Where(filter)}", filter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Up to <paramref name="limit"/> items matching <paramref name="filter"/> now, after <paramref name="after"/> in
    /// (data type, entity id) order: keyset reads of the primary key, so the last chunk of 1,000,000 costs what the first does.
    /// </summary>
    public async Task<IReadOnlyList<ItemKey>> NextChunkAsync(BulkActionFilter filter, ItemKey? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        // Within one data type the key comparison is on entity_id alone, an index range of the key.
        var keyset = after is null ? ""
            : filter.DataType is not null ? "AND w.entity_id > @afterId"
            : "AND (w.data_type > @afterType OR (w.data_type = @afterType AND w.entity_id > @afterId))";
        await using var command = Filtered(connection,
            $"""
            SELECT w.data_type, w.entity_id FROM work_items w
            WHERE {Where(filter)} {keyset}
            ORDER BY w.data_type, w.entity_id {connections.Dialect.Page("@offset", "@limit")}
            """, filter)
            .With("@afterType", after?.DataType).With("@afterId", after?.EntityId).With("@offset", 0).With("@limit", limit);
        var keys = new List<ItemKey>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(new ItemKey(reader.GetString(0), reader.GetString(1)));
        return keys;
    }

    /// <summary>The conditions of the fields given only: each query is planned for the filter it has.</summary>
    private static string Where(BulkActionFilter f) => string.Join(" AND ", new[]
    {
        f.DataType is null ? null : "w.data_type = @dataType",
        f.State is null ? null : "w.state = @state",
        f.Tier is null ? null : "w.tier = @tier",
        f.EntityPrefix is null ? null : "w.entity_id LIKE @prefix ESCAPE '!'",
        f.ErrorContains is null ? null : "LOWER(w.last_error) LIKE @error ESCAPE '!'",
    }.Where(c => c is not null).DefaultIfEmpty("1 = 1"));

    private static DbCommand Filtered(DbConnection connection, string sql, BulkActionFilter f) => connection.Command(sql)
        .With("@dataType", f.DataType).With("@state", f.State).With("@tier", f.Tier)
        .With("@prefix", f.EntityPrefix is null ? null : WorkItemStore.EscapeLike(f.EntityPrefix) + "%")
        .With("@error", f.ErrorContains is null ? null : "%" + WorkItemStore.EscapeLike(f.ErrorContains.ToLowerInvariant()) + "%");

    /// <summary>How many of <paramref name="entityIds"/> (at most a chunk) are stored.</summary>
    public async Task<int> CountStoredAsync(string dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken)
    {
        if (entityIds.Count == 0)
            return 0;
        await using var connection = await connections.OpenAsync(cancellationToken);
        var stored = 0;
        foreach (var chunk in entityIds.Chunk(200))
        {
            await using var command = connection.Command(
                $"SELECT COUNT(*) FROM work_items WHERE data_type = @dataType AND entity_id IN ({string.Join(", ", chunk.Select((_, i) => $"@e{i}"))})")
                .With("@dataType", dataType);
            for (var i = 0; i < chunk.Length; i++)
                command.With($"@e{i}", chunk[i]);
            stored += Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }
        return stored;
    }

    public async Task InsertAsync(BulkActionStatus action, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO bulk_actions (id, action, filter, tier, reason, requested_by, node_id, state, matched, applied, skipped, not_applied, started_at)
            VALUES (@id, @action, @filter, @tier, @reason, @by, @node, @state, @matched, 0, 0, 0, @now)
            """)
            .With("@id", action.Id).With("@action", action.Action).With("@filter", action.Filter.ToJson()).With("@tier", action.Tier)
            .With("@reason", action.Reason).With("@by", action.RequestedBy).With("@node", action.NodeId).With("@state", action.State)
            .With("@matched", action.Matched).With("@now", action.StartedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Adds a chunk's counts and records the last item reached.</summary>
    public async Task ProgressAsync(string id, ChunkCounts counts, ItemKey last, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE bulk_actions SET applied = applied + @applied, skipped = skipped + @skipped, not_applied = not_applied + @notApplied,
                   last_data_type = @lastType, last_entity_id = @lastId
            WHERE id = @id
            """)
            .With("@applied", counts.Applied).With("@skipped", counts.Skipped).With("@notApplied", counts.NotApplied)
            .With("@lastType", last.DataType).With("@lastId", last.EntityId).With("@id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Ends a running action in <paramref name="state"/>. Once done, the matched items never reached (they no longer
    /// matched when their chunk was read) are counted as skipped, so that applied + skipped + notApplied = matched.
    /// </summary>
    public async Task FinishAsync(string id, string state, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE bulk_actions
            SET state = @state, error = @error, finished_at = @now,
                skipped = CASE WHEN @state = 'done' AND matched > applied + skipped + not_applied
                               THEN matched - applied - not_applied ELSE skipped END
            WHERE id = @id AND state = 'running'
            """)
            .With("@state", state).With("@error", error).With("@now", now).With("@id", id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Marks interrupted the running actions of nodes that are gone: on a shared store, nodes other than
    /// <paramref name="node"/> without a live check-in (Quartz's rule, as for an item's owner); on SQLite, which one
    /// node owns, every other node's. Returns how many.
    /// </summary>
    /// <param name="includeOwn">Also those of <paramref name="node"/> (on its start, when none can be running here).</param>
    public async Task<int> InterruptAbandonedAsync(string node, bool includeOwn, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var gone = connections.Provider == StorageProvider.Sqlite ? "" :
            """
            AND NOT EXISTS (SELECT 1 FROM qrtz_scheduler_state s
                            WHERE s.sched_name = @sched AND s.instance_name = bulk_actions.node_id
                              AND s.last_checkin_time + (s.checkin_interval + 7500) * 10000 >= @nowTicks)
            """;
        await using var command = connection.Command(
            $"""
            UPDATE bulk_actions SET state = 'interrupted', finished_at = @now, error = @error
            WHERE state = 'running' AND ((node_id <> @node {gone}) {(includeOwn ? "OR node_id = @node" : "")})
            """)
            .With("@now", now).With("@node", node).With("@sched", _schedulerName).With("@nowTicks", now.UtcTicks)
            .With("@error", "Its node stopped before the action ended; what it applied stays applied. Running the action again is safe.");
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<BulkActionStatus?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT id, action, filter, tier, reason, requested_by, node_id, state, matched, applied, skipped, not_applied, error, started_at, finished_at
            FROM bulk_actions WHERE id = @id
            """).With("@id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new BulkActionStatus(
            reader.GetString(0), reader.GetString(1), BulkActionFilter.FromJson(reader.GetString(2)), reader.Get<string>("tier"),
            reader.Get<string>("reason"), reader.GetString(5), reader.GetString(6), reader.GetString(7),
            reader.GetInt64("matched"), reader.GetInt64("applied"), reader.GetInt64("skipped"), reader.GetInt64("not_applied"),
            reader.Get<string>("error"), reader.GetTime("started_at")!.Value, reader.GetTime("finished_at"));
    }
}

/// <summary>An item's key: its data type and entity id.</summary>
internal sealed record ItemKey(string DataType, string EntityId);

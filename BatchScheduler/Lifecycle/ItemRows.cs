using System.Data.Common;
using BatchScheduler.Configuration;
using BatchScheduler.QuartzTables;
using BatchScheduler.Storage;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Lifecycle;

/// <summary>
/// Opens an item's row for a move: on PostgreSQL and SQL Server the row is locked
/// (<c>FOR UPDATE</c> / <c>UPDLOCK</c>) in a transaction that stays open while the move decides and
/// writes the item's trigger, so every other mover of the item, on any node, and every start of it
/// waits; on SQLite, which one node owns, the read is plain and <see cref="ItemLocks"/> does the rest.
/// </summary>
internal sealed class ItemRows(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
{
    private readonly string _schedulerName = cluster.Value.SchedulerName;

    /// <summary>
    /// Rows held for moves at once, at most half the pool: a move holds its row's connection while it writes the
    /// item's trigger, and that write takes a second connection from the same pool (ArmedTriggerRows). Were every
    /// connection held by a move, each would wait for a second one none of them gives back: a late catch-up of a
    /// few hundred items at MaxConcurrency 128 over a 100-connection pool failed firings with "the connection pool
    /// has been exhausted" until the pool's timeout. With half held, the other half always serves the second.
    /// </summary>
    private readonly SemaphoreSlim? _moveSlots = connections.MaxPoolSize is { } pool ? new SemaphoreSlim(MovesFor(pool)) : null;

    /// <summary>How many rows may be held for moves at once over a pool of <paramref name="pool"/> connections.</summary>
    internal static int MovesFor(int pool) => Math.Max(1, pool / 2);

    /// <summary>Whether rows are locked in the database (a store several nodes share).</summary>
    public bool LocksRows => connections.Provider != StorageProvider.Sqlite;

    /// <summary>
    /// Locks the stored rows among <paramref name="entityIds"/> (in entity-id order, as registration
    /// writes them, so two bulk moves wait rather than deadlock) and reads whether each has a trigger
    /// or firing, and whether that is a pending one-off.
    /// </summary>
    /// <param name="withRecoveries">Also read which of them a pending recovery trigger stands for (<see cref="LockedItem.HasRecovery"/>).</param>
    public async Task<LockedRows> LockManyAsync(string dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken, bool withRecoveries = false)
    {
        var (connection, slot) = await OpenForMoveAsync(cancellationToken);
        DbTransaction? transaction = null;
        try
        {
            if (LocksRows)
                transaction = await connection.BeginTransactionAsync(cancellationToken);
            var found = new Dictionary<string, LockedItem>(StringComparer.Ordinal);
            var ordered = entityIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            foreach (var chunk in ordered.Chunk(connections.Provider == StorageProvider.Postgres ? 10_000 : 500))
            {
                var names = string.Join(", ", chunk.Select((_, i) => $"@e{i}"));
                // PostgreSQL locks in the order given (ordinal), the order registration writes rows in.
                var (lockHint, from, inList, order) = connections.Provider switch
                {
                    StorageProvider.Postgres => ("", "unnest(@ids::text[]) WITH ORDINALITY AS u(e, n) JOIN work_items ON work_items.entity_id = u.e",
                        "", "ORDER BY u.n FOR UPDATE OF work_items"),
                    StorageProvider.SqlServer => ("WITH (UPDLOCK, ROWLOCK, HOLDLOCK)", "work_items", $"AND work_items.entity_id IN ({names})", ""),
                    _ => ("", "work_items", $"AND work_items.entity_id IN ({names})", ""),
                };
                await using var select = connection.Command(
                    $"""
                    SELECT work_items.entity_id,
                           CASE WHEN {SqlDialect.TriggerOrFiring} THEN 1 ELSE 0 END AS has_trigger,
                           CASE WHEN EXISTS (SELECT 1 FROM qrtz_triggers p
                                             WHERE p.sched_name = @sched AND p.trigger_name = work_items.entity_id
                                               AND p.trigger_group = work_items.data_type
                                               AND p.overlap_policy IS NOT NULL AND p.next_fire_time IS NOT NULL) THEN 1 ELSE 0 END AS pending,
                           CASE WHEN EXISTS (SELECT 1 FROM qrtz_fired_triggers r
                                             WHERE r.sched_name = @sched AND r.trigger_name = work_items.entity_id
                                               AND r.trigger_group = work_items.data_type) THEN 1 ELSE 0 END AS firing,
                           CASE WHEN work_items.paused_at IS NULL THEN 0 ELSE 1 END AS paused,
                           work_items.tier
                    FROM {from} {lockHint}
                    WHERE work_items.data_type = @dataType {inList}
                    {order}
                    """, transaction).With("@dataType", dataType).With("@sched", _schedulerName);
                if (connections.Provider == StorageProvider.Postgres)
                    select.With("@ids", chunk);
                else
                {
                    for (var i = 0; i < chunk.Length; i++)
                        select.With($"@e{i}", chunk[i]);
                }
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var id = reader.GetString(0);
                    found[id] = new LockedItem(id, Flag(reader.GetValue(1)), Flag(reader.GetValue(2)), Flag(reader.GetValue(3)), Paused: Flag(reader.GetValue(4)),
                        Tier: reader.IsDBNull(5) ? null : reader.GetString(5));
                }
            }
            if (withRecoveries && found.Count > 0)
            {
                // Read after the rows above: a recovery that deleted a fired row they did not see had stored its trigger by then.
                var recovering = await RecoveredFirings.PendingForAsync(connection, transaction, _schedulerName, dataType, cancellationToken);
                foreach (var id in recovering.Where(found.ContainsKey))
                    found[id] = found[id] with { HasRecovery = true };
            }
            return new LockedRows(found, connection, transaction, slot);
        }
        catch
        {
            if (transaction is not null)
                await transaction.DisposeAsync();
            await connection.DisposeAsync();
            slot?.Release();
            throw;
        }
    }

    /// <summary>A connection for a move, once a move slot is free (the slot to give back with it, if the pool is bounded).</summary>
    private async Task<(DbConnection Connection, SemaphoreSlim? Slot)> OpenForMoveAsync(CancellationToken cancellationToken)
    {
        if (_moveSlots is not null)
            await _moveSlots.WaitAsync(cancellationToken);
        try
        {
            return (await connections.OpenAsync(cancellationToken), _moveSlots);
        }
        catch
        {
            _moveSlots?.Release();
            throw;
        }
    }

    private static bool Flag(object value) => Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture) == 1;

    /// <summary>
    /// Defers the excluded items of <paramref name="dataType"/> left <c>in_flight</c> by an attempt that was cut
    /// off (its node is gone, or released them on restart) and that no firing will resume: the start refuses
    /// an excluded item, and removing an item's trigger (its exclusion) removes Quartz's fired rows of it too.
    /// One statement, so it cannot meet a running attempt: one has a live owner (and a fired row).
    /// </summary>
    /// <remarks>This node's own rows are left alone: it may still run them (on restart it releases its predecessor's, node_id NULL).</remarks>
    public async Task<int> DeferInterruptedExcludedAsync(string dataType, string nodeId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            UPDATE work_items SET {SqlDialect.WriteState}, last_error = @reason, updated_at = @now
            WHERE data_type = @dataType AND tier = 'exclude' AND state = 'in_flight'
              AND NOT EXISTS (SELECT 1 FROM qrtz_fired_triggers f
                              WHERE f.sched_name = @sched AND f.trigger_name = work_items.entity_id AND f.trigger_group = work_items.data_type)
              AND (node_id IS NULL OR (node_id <> @node AND {SqlDialect.OwnerNotAlive}))
            """).With("@state", WorkItemStates.Deferred).With("@reason", reason).With("@node", nodeId).With("@now", now).With("@dataType", dataType).With("@sched", _schedulerName).With("@nowTicks", now.UtcTicks);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The entity ids of the data type's items paused by themselves.</summary>
    public async Task<IReadOnlyList<string>> PausedItemsAsync(string dataType, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT entity_id FROM work_items WHERE data_type = @dataType AND paused_at IS NOT NULL")
            .With("@dataType", dataType);
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            ids.Add(reader.GetString(0));
        return ids;
    }

    public async Task<LockedRow> OpenAsync(string dataType, string entityId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (connection, slot) = await OpenForMoveAsync(cancellationToken);
        DbTransaction? transaction = null;
        try
        {
            if (LocksRows)
                transaction = await connection.BeginTransactionAsync(cancellationToken);
            var lockHint = connections.Provider == StorageProvider.SqlServer ? "WITH (UPDLOCK, ROWLOCK, HOLDLOCK)" : "";
            var forUpdate = connections.Provider == StorageProvider.Postgres ? "FOR UPDATE" : "";
            await using var select = connection.Command(
                $"""
                SELECT state, tier, fence, node_id, updates_start, updates_end,
                       CASE WHEN node_id IS NOT NULL AND {SqlDialect.OwnerNotAlive} THEN 0 ELSE 1 END AS owner_alive,
                       paused_at
                FROM work_items {lockHint}
                WHERE data_type = @dataType AND entity_id = @entityId
                {forUpdate}
                """, transaction)
                .With("@dataType", dataType).With("@entityId", entityId).With("@sched", _schedulerName).With("@nowTicks", now.UtcTicks);
            ItemRow? row = null;
            await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    row = new ItemRow(reader.GetString(0), reader.Get<string>("tier"), reader.GetInt64(2), reader.Get<string>("node_id"),
                        reader.GetTime("updates_start"), reader.GetTime("updates_end"), Flag(reader.GetValue(6)), reader.GetTime("paused_at") is not null);
                }
            }
            return new LockedRow(dataType, entityId, row, connection, transaction, slot, _schedulerName, connections.Provider == StorageProvider.Postgres);
        }
        catch
        {
            if (transaction is not null)
                await transaction.DisposeAsync();
            await connection.DisposeAsync();
            slot?.Release();
            throw;
        }
    }
}

/// <summary>What a bulk move found of one item under its lock.</summary>
/// <param name="HasPendingOneOff">Its trigger is a one-off (retry, deferral, run-now, upstream arm) still to fire.</param>
/// <param name="HasFiring">A firing of it is under way (a <c>qrtz_fired_triggers</c> row).</param>
/// <param name="HasRecovery">A recovery trigger stands for an interrupted firing of it (read only when asked for).</param>
/// <param name="Paused">The item is paused: a trigger armed for it is paused too.</param>
/// <param name="Tier">The item's tier.</param>
internal sealed record LockedItem(string EntityId, bool HasTriggerOrFiring, bool HasPendingOneOff, bool HasFiring, bool HasRecovery = false, bool Paused = false, string? Tier = null);

/// <summary>Items' rows held for a bulk move (see <see cref="ItemRows.LockManyAsync"/>); committed by <see cref="HeldRows.CommitAsync"/>.</summary>
internal sealed class LockedRows(IReadOnlyDictionary<string, LockedItem> found, DbConnection connection, DbTransaction? transaction, SemaphoreSlim? slot)
    : HeldRows(connection, transaction, slot)
{
    /// <summary>The items that are stored, by entity id.</summary>
    public IReadOnlyDictionary<string, LockedItem> Found { get; } = found;

    /// <summary>Pauses the items (as <see cref="LockedRow.PauseAsync"/> does one).</summary>
    public Task PauseAsync(string dataType, IReadOnlyList<string> entityIds, string by, string? reason, DateTimeOffset now, CancellationToken cancellationToken) =>
        EachChunkAsync(RowWrites.Pause, dataType, entityIds, c => c.With("@now", now).With("@by", by).With("@reason", RowWrites.Reason(reason)), cancellationToken);

    /// <summary>Resumes the items (as <see cref="LockedRow.ResumeAsync"/> does one).</summary>
    public Task ResumeAsync(string dataType, IReadOnlyList<string> entityIds, DateTimeOffset now, CancellationToken cancellationToken) =>
        EachChunkAsync(RowWrites.Resume, dataType, entityIds, c => c.With("@now", now), cancellationToken);

    /// <summary>Deletes the items' rows (their failure rows stay as history).</summary>
    public Task DeleteAsync(string dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken) =>
        EachChunkAsync(RowWrites.Delete, dataType, entityIds, c => c, cancellationToken);

    /// <summary>
    /// Deletes the rows among <paramref name="entityIds"/> that are still aged-out completed one-shot items
    /// (<see cref="AgedOutCompleted"/>, tested again by the delete itself); returns how many it deleted.
    /// </summary>
    public Task<int> DeleteAgedOutAsync(string dataType, IReadOnlyList<string> entityIds, AgedOutCompleted agedOut, CancellationToken cancellationToken) =>
        EachChunkAsync(keys => $"DELETE FROM work_items WHERE {agedOut.Condition} AND {keys}", dataType, entityIds, agedOut.Parameters, cancellationToken);

    private async Task<int> EachChunkAsync(
        Func<string, string> statement, string dataType, IReadOnlyList<string> entityIds, Func<DbCommand, DbCommand> parameters, CancellationToken cancellationToken)
    {
        var written = 0;
        // 200 keys a statement: within every provider's parameter limit (SQL Server's is 2,100).
        foreach (var chunk in entityIds.Chunk(200))
        {
            await using var command = parameters(Connection.Command(statement($"entity_id IN ({string.Join(", ", chunk.Select((_, i) => $"@e{i}"))})"), Transaction)
                .With("@dataType", dataType));
            for (var i = 0; i < chunk.Length; i++)
                command.With($"@e{i}", chunk[i]);
            written += await command.ExecuteNonQueryAsync(cancellationToken);
        }
        return written;
    }
}

/// <summary>The writes a pause, a resume and a delete make to items' rows, for one item or many (<paramref name="keys"/>: the entity id condition).</summary>
internal static class RowWrites
{
    private const int MaxReasonLength = 4000;

    /// <summary>
    /// Pauses: <c>paused</c> with who, when and why, the state kept in <c>paused_state</c>. An item in flight stays
    /// <c>in_flight</c> until its attempt ends; that end writes <c>paused</c> (see <see cref="SqlDialect.WriteState"/>).
    /// </summary>
    public static string Pause(string keys) =>
        $"""
        UPDATE work_items
        SET paused_at = @now, paused_by = @by, paused_reason = @reason, updated_at = @now,
            paused_state = CASE WHEN state = 'in_flight' THEN NULL ELSE state END,
            state = CASE WHEN state = 'in_flight' THEN state ELSE 'paused' END
        WHERE data_type = @dataType AND {keys} AND paused_at IS NULL
        """;

    /// <summary>Resumes: the item gets back the state it had (or that an attempt running at the pause ended with).</summary>
    public static string Resume(string keys) =>
        $"""
        UPDATE work_items
        SET state = CASE WHEN state = 'paused' THEN COALESCE(paused_state, 'deferred') ELSE state END,
            paused_at = NULL, paused_by = NULL, paused_reason = NULL, paused_state = NULL, updated_at = @now
        WHERE data_type = @dataType AND {keys} AND paused_at IS NOT NULL
        """;

    public static string Delete(string keys) => $"DELETE FROM work_items WHERE data_type = @dataType AND {keys}";

    /// <summary>A pause's reason as stored.</summary>
    public static string? Reason(string? reason) =>
        reason is null ? null : StorableText.Storable(reason.Length <= MaxReasonLength ? reason : reason[..MaxReasonLength]);
}

/// <summary>
/// Rows a move holds: its connection and, on stores that lock rows, the transaction holding the locks.
/// Committed by <see cref="CommitAsync"/>; disposed without it, what was written is rolled back.
/// </summary>
internal abstract class HeldRows(DbConnection connection, DbTransaction? transaction, SemaphoreSlim? slot) : IAsyncDisposable
{
    private int _disposed;

    protected DbConnection Connection { get; } = connection;

    protected DbTransaction? Transaction { get; } = transaction;

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (Transaction is not null)
            await Transaction.CommitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            if (Transaction is not null)
                await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            slot?.Release();
        }
    }
}

/// <summary>An item's row as a move found it: what it decides on.</summary>
/// <param name="OwnerAlive">Whether <paramref name="NodeId"/> (if any) has a live check-in.</param>
/// <param name="Paused">The item is paused (by itself; its data type's pause is Quartz's paused trigger group).</param>
internal sealed record ItemRow(
    string State, string? Tier, long Fence, string? NodeId, DateTimeOffset? UpdatesStart, DateTimeOffset? UpdatesEnd, bool OwnerAlive, bool Paused = false)
{
    /// <summary>In flight on a node other than <paramref name="node"/> that is alive (its attempt may be running).</summary>
    public bool InFlightElsewhere(string node) => State == WorkItemStates.InFlight && NodeId is not null && NodeId != node && OwnerAlive;
}

/// <summary>
/// An item's row held for a move (see <see cref="ItemRows"/>). Its writes are conditional on the fence
/// the move read, so on SQLite a start that slipped in after the read makes them write nothing.
/// Committed by <see cref="CommitAsync"/>; disposed without it, what it wrote is rolled back.
/// </summary>
internal sealed class LockedRow(
    string dataType, string entityId, ItemRow? row, DbConnection connection, DbTransaction? transaction, SemaphoreSlim? slot, string schedulerName, bool inPlace)
    : HeldRows(connection, transaction, slot)
{
    private const int MaxErrorLength = 4000;

    /// <summary>Whether <see cref="MoveTriggerAsync"/> can move the item's trigger in this move's transaction (PostgreSQL).</summary>
    public bool MovesTriggerInPlace => Transaction is not null && inPlace;

    /// <summary>
    /// Moves the item's trigger to start and next fire at <paramref name="due"/>, in this move's transaction, if it is
    /// still waiting with the next fire time the move read (<paramref name="seen"/>): not fired, not taken by an
    /// acquisition, not paused since. Quartz's acquisition takes a trigger only if its next fire time is still the one
    /// it read, and the set-based claim skips a row this transaction holds, so neither fires it at the old time.
    /// A trigger row another transaction holds (a firing round that claimed it) is not waited for: a move holds a
    /// pooled connection, and the round may need one to finish. False, with nothing written, when it had changed or
    /// was held.
    /// </summary>
    public async Task<bool> MoveTriggerAsync(DateTimeOffset seen, DateTimeOffset due, CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(
            """
            UPDATE qrtz_triggers t SET next_fire_time = @due, start_time = @due
            FROM (SELECT sched_name, trigger_name, trigger_group FROM qrtz_triggers
                  WHERE sched_name = @sched AND trigger_name = @entityId AND trigger_group = @dataType
                    AND trigger_state = 'WAITING' AND next_fire_time = @seen AND job_data IS NULL
                  FOR UPDATE SKIP LOCKED) w
            WHERE t.sched_name = w.sched_name AND t.trigger_name = w.trigger_name AND t.trigger_group = w.trigger_group
            """, Transaction)
            .With("@due", due.UtcTicks).With("@seen", seen.UtcTicks).With("@sched", schedulerName).With("@entityId", EntityId).With("@dataType", DataType);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public string DataType { get; } = dataType;

    public string EntityId { get; } = entityId;

    /// <summary>The row, or null when the item is not stored.</summary>
    public ItemRow? Row { get; } = row;

    /// <summary>Sets the state (and optionally the attempt counter) while the row still has the fence read; false when it has not.</summary>
    public Task<bool> SetStateAsync(string state, string? reason, int? attempt, DateTimeOffset now, CancellationToken cancellationToken) =>
        Row is null ? Task.FromResult(false) : UpdateStateAsync(Transaction, state, reason, attempt, now, cancellationToken);

    /// <summary>Records a failed attempt with the item's new state, while the row still has the fence read; false (nothing written) when it has not.</summary>
    public Task<bool> RecordFailureAsync(FailureRecord failure, string state, string reason, CancellationToken cancellationToken) =>
        WithFailureRowAsync(failure, done: false, transaction => UpdateStateAsync(transaction, state, reason, null, failure.FailedAt, cancellationToken), cancellationToken);

    /// <summary>
    /// Records an attempt an operator cancelled, while the row still has the fence read: not counted (<paramref name="attempt"/>
    /// is the count before it), <c>paused</c> by <paramref name="by"/> for <paramref name="reason"/> unless it is paused already,
    /// its state for the resume <c>deferred</c>, the cancel request cleared, and <paramref name="record"/> as a failure row that is done.
    /// </summary>
    public Task<bool> RecordCancelAsync(FailureRecord record, string by, string reason, int attempt, CancellationToken cancellationToken) =>
        WithFailureRowAsync(record, done: true, async transaction =>
        {
            await using var command = Connection.Command(
                """
                UPDATE work_items
                SET state = 'paused', paused_state = @state,
                    paused_by = CASE WHEN paused_at IS NULL THEN @by ELSE paused_by END,
                    paused_reason = CASE WHEN paused_at IS NULL THEN @reason ELSE paused_reason END,
                    paused_at = COALESCE(paused_at, @now),
                    last_error = @reason, attempt = @attempt, updated_at = @now,
                    cancel_fence = NULL, cancel_by = NULL, cancel_reason = NULL
                WHERE data_type = @dataType AND entity_id = @entityId AND fence = @fence
                """, transaction)
                .With("@state", WorkItemStates.Deferred).With("@by", by).With("@reason", Truncate(reason, MaxErrorLength)).With("@now", record.FailedAt)
                .With("@attempt", attempt).With("@dataType", DataType).With("@entityId", EntityId).With("@fence", Row!.Fence);
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);

    /// <summary>
    /// Asks the attempt running now (the fence read) to stop: who and why, for the node running it. False when the
    /// row no longer has that fence.
    /// </summary>
    public async Task<bool> RequestCancelAsync(string by, string? reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(
            """
            UPDATE work_items SET cancel_fence = fence, cancel_by = @by, cancel_reason = @reason, updated_at = @now
            WHERE data_type = @dataType AND entity_id = @entityId AND fence = @fence
            """, Transaction)
            .With("@by", by).With("@reason", Truncate(reason, MaxErrorLength)).With("@now", now)
            .With("@dataType", DataType).With("@entityId", EntityId).With("@fence", Row!.Fence);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>Writes <paramref name="update"/> and, when it wrote, <paramref name="failure"/>'s row, in one transaction.</summary>
    private async Task<bool> WithFailureRowAsync(FailureRecord failure, bool done, Func<DbTransaction?, Task<bool>> update, CancellationToken cancellationToken)
    {
        if (Row is null)
            return false;
        // On SQLite there is no held transaction: the state and the failure row still go together.
        var own = Transaction is null ? await Connection.BeginTransactionAsync(cancellationToken) : null;
        try
        {
            var transaction = Transaction ?? own;
            if (!await update(transaction))
                return false;
            await using (var insert = Connection.Command(
                """
                INSERT INTO failures (data_type, entity_id, attempt, node_id, failed_at, exception_type, message, detail, done, done_at)
                VALUES (@dataType, @entityId, @attempt, @node, @at, @type, @message, @detail, @done, @doneAt)
                """, transaction))
            {
                insert.With("@dataType", failure.DataType).With("@entityId", failure.EntityId).With("@attempt", failure.Attempt)
                    .With("@node", failure.NodeId).With("@at", failure.FailedAt).With("@type", Truncate(failure.ExceptionType, 500))
                    .With("@message", Storable(failure.Message)).With("@detail", Storable(failure.Detail)).With("@done", done).With("@doneAt", done ? failure.FailedAt : (object)DBNull.Value);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            if (own is not null)
                await own.CommitAsync(cancellationToken);
            return true;
        }
        finally
        {
            if (own is not null)
                await own.DisposeAsync();
        }
    }

    /// <summary>
    /// Pauses the item: <c>paused</c> with who, when and why, its state kept in <c>paused_state</c>. An item in
    /// flight stays <c>in_flight</c> until its attempt ends; that end writes <c>paused</c> (see <see cref="SqlDialect.WriteState"/>).
    /// </summary>
    public async Task PauseAsync(string by, string? reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(RowWrites.Pause("entity_id = @entityId"), Transaction)
            .With("@now", now).With("@by", by).With("@reason", RowWrites.Reason(reason))
            .With("@dataType", DataType).With("@entityId", EntityId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Resumes the item: it gets back the state it had (or that an attempt running at the pause ended with).</summary>
    public async Task ResumeAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(RowWrites.Resume("entity_id = @entityId"), Transaction)
            .With("@now", now).With("@dataType", DataType).With("@entityId", EntityId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes the row (its failure rows stay as history).</summary>
    public async Task<bool> DeleteAsync(CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(RowWrites.Delete("entity_id = @entityId"), Transaction)
            .With("@dataType", DataType).With("@entityId", EntityId);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    private async Task<bool> UpdateStateAsync(
        DbTransaction? transaction, string state, string? reason, int? attempt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Connection.Command(
            $"""
            UPDATE work_items SET {SqlDialect.WriteState}, last_error = @reason, attempt = COALESCE(@attempt, attempt), updated_at = @now
            WHERE data_type = @dataType AND entity_id = @entityId AND fence = @fence
            """, transaction)
            .With("@state", state).With("@reason", Truncate(reason, MaxErrorLength)).With("@attempt", attempt ?? (object?)DBNull.Value)
            .With("@now", now).With("@dataType", DataType).With("@entityId", EntityId).With("@fence", Row!.Fence);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>An executor's text (an exception message, a response body) may hold anything: stored as every store can keep it.</summary>
    private static string? Storable(string? value) => value is null ? null : StorableText.Storable(value);

    private static string? Truncate(string? value, int max) =>
        Storable(value is null || value.Length <= max ? value : value[..max]);
}

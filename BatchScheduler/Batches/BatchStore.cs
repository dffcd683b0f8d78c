using System.Data.Common;
using System.Globalization;
using BatchScheduler.Storage;

namespace BatchScheduler.Batches;

/// <summary>
/// Reads and writes <c>batches</c> and <c>batch_records</c>, and reads a batch's work items.
/// A record's item is the <c>work_items</c> row of its data type and entity id that still carries
/// the batch's id; it has finished for the batch when it completed after the batch was validated
/// (<c>updates_end</c> at or after <c>validated_at</c>), or was dead-lettered or expired since.
/// </summary>
internal sealed class BatchStore(ConnectionFactory connections)
{
    private const string Linked =
        """
        w.data_type = batch_records.data_type AND w.entity_id = batch_records.entity_id AND w.batch_id = batch_records.batch_id
        """;

    private const string Succeeded = "w.updates_end >= @t";
    private const string FailedSince = "w.state IN ('dead_lettered', 'expired') AND w.updated_at >= @t AND (w.updates_end IS NULL OR w.updates_end < @t)";

    /// <summary>Neither <see cref="Succeeded"/> nor <see cref="FailedSince"/>, NULL-safe.</summary>
    private const string Unfinished = "(w.updates_end IS NULL OR w.updates_end < @t) AND NOT (w.state IN ('dead_lettered', 'expired') AND w.updated_at >= @t)";

    public async Task CreateAsync(string id, string dataType, string contentType, DateTimeOffset? deadline, string? callbackUrl, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO batches (id, data_type, status, content_type, deadline, callback_url, created_at, updated_at)
            VALUES (@id, @dataType, 'validating', @contentType, @deadline, @callbackUrl, @now, @now)
            """).With("@id", id).With("@dataType", dataType).With("@contentType", contentType)
            .WithTime("@deadline", deadline).With("@callbackUrl", callbackUrl).With("@now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Stores records of a batch still validating, and notes the bytes read so far; false when the batch is no longer validating.</summary>
    public async Task<bool> AddRecordsAsync(string id, IReadOnlyList<BatchRecordRow> records, long bytes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var touch = connection.Command(
            "UPDATE batches SET bytes = @bytes, updated_at = @now WHERE id = @id AND status = 'validating'", transaction)
            .With("@id", id).With("@bytes", bytes).With("@now", now))
        {
            if (await touch.ExecuteNonQueryAsync(cancellationToken) == 0)
                return false;
        }
        if (connections.Provider == StorageProvider.Postgres)
        {
            await using var command = connection.Command(
                """
                INSERT INTO batch_records (batch_id, line, entity_id, data_type, tier, payload, outcome, reason, run_at)
                SELECT @id, u.l, u.e, u.d, u.t, u.p, u.o, u.r, u.w
                FROM unnest(@l::bigint[], @e::text[], @d::text[], @t::text[], @p::text[], @o::text[], @r::text[], @w::timestamptz[])
                     AS u(l, e, d, t, p, o, r, w)
                """, transaction).With("@id", id)
                .With("@l", records.Select(r => r.Line).ToArray())
                .With("@e", records.Select(r => r.EntityId).ToArray())
                .With("@d", records.Select(r => r.DataType).ToArray())
                .With("@t", records.Select(r => r.Tier).ToArray())
                .With("@p", records.Select(r => r.Payload).ToArray())
                .With("@o", records.Select(r => r.Outcome).ToArray())
                .With("@r", records.Select(r => r.Reason).ToArray())
                .With("@w", records.Select(r => r.RunAt).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        else
        {
            foreach (var chunk in records.Chunk(connections.Dialect.RowsPerStatement / 2))
            {
                var values = string.Join(", ", chunk.Select((_, i) => $"(@id, @l{i}, @e{i}, @d{i}, @t{i}, @p{i}, @o{i}, @r{i}, @w{i})"));
                await using var command = connection.Command(
                    $"INSERT INTO batch_records (batch_id, line, entity_id, data_type, tier, payload, outcome, reason, run_at) VALUES {values}", transaction)
                    .With("@id", id);
                for (var i = 0; i < chunk.Length; i++)
                {
                    var r = chunk[i];
                    command.With($"@l{i}", r.Line).With($"@e{i}", r.EntityId).With($"@d{i}", r.DataType).With($"@t{i}", r.Tier)
                        .With($"@p{i}", r.Payload).With($"@o{i}", r.Outcome).With($"@r{i}", r.Reason).WithTime($"@w{i}", r.RunAt);
                }
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Ends validation: in progress when there are valid records, failed (finished) when there are none.</summary>
    public async Task<bool> FinishValidationAsync(string id, int total, int invalid, long bytes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var status = total > invalid ? BatchStatuses.InProgress : BatchStatuses.Failed;
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches
            SET status = @status, total = @total, invalid = @invalid, bytes = @bytes, validated_at = @now, updated_at = @now,
                finished_at = CASE WHEN @status = 'failed' THEN @now ELSE NULL END,
                callback_next_at = CASE WHEN @status = 'failed' AND callback_url IS NOT NULL THEN @now ELSE NULL END,
                error = CASE WHEN @status = 'failed' THEN @error ELSE NULL END
            WHERE id = @id AND status = 'validating'
            """).With("@id", id).With("@status", status).With("@total", total).With("@invalid", invalid).With("@bytes", bytes)
            .With("@now", now).With("@error", total == 0 ? "The file has no records." : "Every record of the file is invalid.");
        var finished = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        if (connections.Provider == StorageProvider.Postgres && total >= PostgresStatistics.MinimumRows)
        {
            // The records are read back by line and by entity; plan those for the table as it now is.
            await using var analyze = connection.Command("ANALYZE batch_records");
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }
        return finished;
    }

    /// <summary>Marks a batch that never finished validating as failed, saying why.</summary>
    public async Task FailValidationAsync(string id, string error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches SET status = 'failed', error = @error, finished_at = @now, updated_at = @now,
                   callback_next_at = CASE WHEN callback_url IS NOT NULL THEN @now ELSE NULL END
            WHERE id = @id AND status = 'validating'
            """).With("@id", id).With("@error", error).With("@now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<BatchRow?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command($"{SelectBatch} WHERE id = @id").With("@id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadBatch(reader) : null;
    }

    /// <summary>Batches newest first, optionally of one status.</summary>
    public async Task<IReadOnlyList<BatchRow>> ListAsync(string? status, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"{SelectBatch} WHERE (@status IS NULL OR status = @status) ORDER BY created_at DESC, id DESC {connections.Dialect.Page("@offset", "@limit")}")
            .With("@status", status).With("@offset", (page - 1) * pageSize).With("@limit", pageSize);
        return await ReadBatchesAsync(command, cancellationToken);
    }

    /// <summary>
    /// Batches with something to do at <paramref name="now"/>: active ones, ended ones whose records
    /// are not all settled, due callbacks, and finished ones due for archiving (finished before <paramref name="archiveBefore"/>).
    /// </summary>
    public async Task<IReadOnlyList<BatchRow>> ListNeedingAttentionAsync(DateTimeOffset now, DateTimeOffset archiveBefore, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            {SelectBatch}
            WHERE status IN ('validating', 'in_progress')
               OR (status <> 'archived' AND (outcome IS NULL OR finished_at <= @archiveBefore
                   OR (callback_delivered_at IS NULL AND callback_next_at <= @now)))
            ORDER BY created_at
            """).With("@now", now).With("@archiveBefore", archiveBefore);
        return await ReadBatchesAsync(command, cancellationToken);
    }

    /// <summary>Valid records after line <paramref name="afterLine"/> with no outcome yet, in line order.</summary>
    public async Task<IReadOnlyList<BatchRecordRow>> RecordsToRegisterAsync(string id, long afterLine, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT line, entity_id, data_type, tier, payload, run_at FROM batch_records
            WHERE batch_id = @id AND line > @after AND outcome IS NULL
            ORDER BY line {connections.Dialect.Page("@offset", "@limit")}
            """).With("@id", id).With("@after", afterLine).With("@offset", 0).With("@limit", limit);
        var rows = new List<BatchRecordRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new BatchRecordRow(reader.GetInt64("line"), reader.Get<string>("entity_id"), reader.Get<string>("data_type"),
                reader.Get<string>("tier"), reader.Get<string>("payload"), null, null, reader.GetTime("run_at")));
        }
        return rows;
    }

    /// <summary>Moves the registration mark from <paramref name="from"/> to <paramref name="to"/>; false when another node moved it first.</summary>
    public async Task<bool> AdvanceRegisteredAsync(string id, long from, long to, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "UPDATE batches SET registered_line = @to, updated_at = @now WHERE id = @id AND registered_line = @from")
            .With("@id", id).With("@from", from).With("@to", to).With("@now", now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Gives an outcome to every record whose item has finished for the batch (<paramref name="validatedAt"/>):
    /// succeeded, or failed with the item's last error. Returns how many records it settled.
    /// </summary>
    public async Task<int> SettleFinishedAsync(string id, DateTimeOffset validatedAt, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            UPDATE batch_records
            SET outcome = CASE WHEN EXISTS (SELECT 1 FROM work_items w WHERE {Linked} AND {Succeeded}) THEN 'succeeded' ELSE 'failed' END,
                reason = (SELECT w.last_error FROM work_items w WHERE {Linked} AND {FailedSince})
            WHERE batch_id = @id AND outcome IS NULL
              AND EXISTS (SELECT 1 FROM work_items w WHERE {Linked} AND ({Succeeded} OR ({FailedSince})))
            """).With("@id", id).With("@t", validatedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Whether any of the batch's items has not started yet, or runs, or waits for a retry: a cheap
    /// look (the (batch_id, state) index alone) before <see cref="CountUnfinishedItemsAsync"/>. The
    /// <c>ORDER BY</c> (of a column the condition fixes, so free) is for SQL Server, whose
    /// <c>OFFSET … FETCH</c> is a syntax error without one.
    /// </summary>
    public async Task<bool> AnyItemNotDoneAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT 1 FROM work_items
            WHERE batch_id = @id AND state IN ('never_run', 'in_flight', 'retrying', 'deferred')
            ORDER BY batch_id {connections.Dialect.Page("@offset", "@limit")}
            """).With("@id", id).With("@offset", 0).With("@limit", 1);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>The batch's items that have not finished for it (see the class summary).</summary>
    public async Task<int> CountUnfinishedItemsAsync(string id, DateTimeOffset validatedAt, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command($"SELECT COUNT(*) FROM work_items w WHERE w.batch_id = @id AND {Unfinished}")
            .With("@id", id).With("@t", validatedAt);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Gives <paramref name="outcome"/> and <paramref name="reason"/> to every record without an
    /// outcome whose item is gone from the batch (never registered, removed, deleted, or re-submitted
    /// by another batch).
    /// </summary>
    public async Task<int> SettleUnlinkedAsync(string id, string outcome, string reason, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            UPDATE batch_records SET outcome = @outcome, reason = @reason
            WHERE batch_id = @id AND outcome IS NULL AND NOT EXISTS (SELECT 1 FROM work_items w WHERE {Linked})
            """).With("@id", id).With("@outcome", outcome).With("@reason", reason);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Items of the batch that have not started and not finished (for cancel and deadline), with
    /// whether the batch created them (<c>created_at</c> at or after <paramref name="validatedAt"/>).
    /// </summary>
    public async Task<IReadOnlyList<(string DataType, string EntityId, bool CreatedByBatch)>> PendingItemsAsync(
        string id, DateTimeOffset validatedAt, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT w.data_type, w.entity_id, CASE WHEN w.created_at >= @t THEN 1 ELSE 0 END AS created
            FROM work_items w
            WHERE w.batch_id = @id AND w.state <> 'in_flight' AND {Unfinished}
            """).With("@id", id).With("@t", validatedAt);
        var rows = new List<(string, string, bool)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64("created") == 1));
        return rows;
    }

    /// <summary>
    /// Takes a pending item out of the batch: deletes its row when the batch created it, otherwise
    /// only unlinks it. Either way only while it has still not started; false when it has.
    /// </summary>
    public async Task<bool> DetachPendingItemAsync(string id, string dataType, string entityId, bool delete, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var sql = delete
            ? "DELETE FROM work_items WHERE data_type = @d AND entity_id = @e AND batch_id = @id AND state <> 'in_flight'"
            : "UPDATE work_items SET batch_id = NULL WHERE data_type = @d AND entity_id = @e AND batch_id = @id AND state <> 'in_flight'";
        await using var command = connection.Command(sql).With("@id", id).With("@d", dataType).With("@e", entityId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Moves an active batch to a final status; false when it was no longer active.</summary>
    public async Task<bool> FinishAsync(string id, string status, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches SET status = @status, finished_at = @now, updated_at = @now
            WHERE id = @id AND status IN ('validating', 'in_progress')
            """).With("@id", id).With("@status", status).With("@now", now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Once every record has its outcome: sets the final status (in-progress batches only) and makes the callback due.</summary>
    public async Task<bool> CloseAsync(string id, string? finalStatus, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches
            SET status = COALESCE(@status, status), finished_at = COALESCE(finished_at, @now), updated_at = @now,
                outcome = COALESCE(@status, status),
                callback_next_at = CASE WHEN callback_url IS NOT NULL AND callback_delivered_at IS NULL THEN @now ELSE NULL END
            WHERE id = @id AND outcome IS NULL AND (@status IS NULL OR status = 'in_progress')
            """).With("@id", id).With("@status", finalStatus).With("@now", now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Counts of the batch's records by outcome; records without one count by their item's state now.</summary>
    public async Task<BatchCounts> CountAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var byOutcome = new Dictionary<string, int>(StringComparer.Ordinal);
        await using (var command = connection.Command(
            "SELECT outcome, COUNT(*) AS n FROM batch_records WHERE batch_id = @id GROUP BY outcome").With("@id", batch.Id))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                byOutcome[reader.Get<string>("outcome") ?? ""] = (int)reader.GetInt64("n");
        }
        int Of(string outcome) => byOutcome.GetValueOrDefault(outcome);
        var open = Of("");
        int liveSucceeded = 0, liveFailed = 0;
        if (open > 0 && batch.ValidatedAt is { } validatedAt)
        {
            // In progress, no valid record is settled yet (they settle at the end), so the batch's
            // items are exactly its open records: counted from the (batch_id, state) index alone,
            // whatever the planner knows about batch_records. After a cancel or deadline some
            // records are settled while their items still carry the batch id: join, few rows.
            await using var command = connection.Command(batch.Status == BatchStatuses.InProgress
                ? $"""
                   SELECT SUM(CASE WHEN {Succeeded} THEN 1 ELSE 0 END) AS s, SUM(CASE WHEN {FailedSince} THEN 1 ELSE 0 END) AS f
                   FROM work_items w WHERE w.batch_id = @id
                   """
                : $"""
                   SELECT SUM(CASE WHEN {Succeeded} THEN 1 ELSE 0 END) AS s, SUM(CASE WHEN {FailedSince} THEN 1 ELSE 0 END) AS f
                   FROM batch_records JOIN work_items w ON {Linked}
                   WHERE batch_records.batch_id = @id AND batch_records.outcome IS NULL
                   """).With("@id", batch.Id).With("@t", validatedAt);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                liveSucceeded = reader.IsDBNull(0) ? 0 : (int)reader.GetInt64("s");
                liveFailed = reader.IsDBNull(1) ? 0 : (int)reader.GetInt64("f");
            }
        }
        var total = byOutcome.Values.Sum();
        return new BatchCounts(
            Math.Max(total, batch.Total), Of(RecordOutcomes.Succeeded) + liveSucceeded, Of(RecordOutcomes.Failed) + liveFailed,
            Of(RecordOutcomes.Invalid), Of(RecordOutcomes.Expired), Of(RecordOutcomes.Cancelled), open - liveSucceeded - liveFailed);
    }

    /// <summary>The batch's work items counted by state (for the audit).</summary>
    public async Task<IReadOnlyDictionary<string, int>> ItemStatesAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT state, COUNT(*) AS n FROM work_items WHERE batch_id = @id GROUP BY state").With("@id", id);
        var result = new SortedDictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = (int)reader.GetInt64("n");
        return result;
    }

    /// <summary>
    /// A page of the batch's records after <paramref name="afterLine"/> with their outcome: their
    /// own, or for records not settled yet, their item's result so far (null while it runs).
    /// </summary>
    public async Task<IReadOnlyList<BatchRecordOutput>> RecordsAsync(BatchRow batch, long afterLine, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT batch_records.line, batch_records.entity_id, batch_records.data_type,
                   COALESCE(batch_records.outcome, CASE WHEN {Succeeded} THEN 'succeeded' WHEN {FailedSince} THEN 'failed' ELSE '' END) AS outcome,
                   COALESCE(batch_records.reason, CASE WHEN {FailedSince} THEN w.last_error END) AS reason
            FROM batch_records LEFT JOIN work_items w ON {Linked}
            WHERE batch_records.batch_id = @id AND batch_records.line > @after
            ORDER BY batch_records.line {connections.Dialect.Page("@offset", "@limit")}
            """).With("@id", batch.Id).With("@after", afterLine).With("@t", batch.ValidatedAt ?? batch.CreatedAt)
            .With("@offset", 0).With("@limit", limit);
        var rows = new List<BatchRecordOutput>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new BatchRecordOutput(reader.GetInt64("line"), reader.Get<string>("entity_id"), reader.Get<string>("data_type"),
                reader.Get<string>("outcome") ?? "", reader.Get<string>("reason")));
        }
        return rows;
    }

    /// <summary>Claims the batch's due callback until <paramref name="leaseUntil"/>; false when another node has it or it is not due.</summary>
    public async Task<bool> ClaimCallbackAsync(BatchRow batch, DateTimeOffset leaseUntil, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches SET callback_next_at = @lease
            WHERE id = @id AND callback_delivered_at IS NULL AND callback_next_at = @seen
            """).With("@id", batch.Id).With("@lease", leaseUntil).WithTime("@seen", batch.CallbackNextAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Records a callback attempt: delivered, or failed with the next attempt's time.</summary>
    public async Task CallbackAttemptedAsync(string id, DateTimeOffset now, string? error, DateTimeOffset? nextAt, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE batches
            SET callback_attempts = callback_attempts + 1, callback_last_error = @error, callback_next_at = @next,
                callback_delivered_at = CASE WHEN @error IS NULL THEN @now ELSE NULL END, updated_at = @now
            WHERE id = @id
            """).With("@id", id).With("@now", now).With("@error", error).WithTime("@next", nextAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Entity ids of the batch's items that still have a trigger, by data type (for archiving).</summary>
    public async Task<IReadOnlyList<(string DataType, string EntityId)>> ItemsWithTriggersAsync(string id, string schedulerName, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT w.data_type, w.entity_id FROM work_items w
            JOIN qrtz_triggers t ON t.sched_name = @sched AND t.trigger_group = w.data_type AND t.trigger_name = w.entity_id
            WHERE w.batch_id = @id
            """).With("@id", id).With("@sched", schedulerName);
        var rows = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add((reader.GetString(0), reader.GetString(1)));
        return rows;
    }

    /// <summary>Archives a finished batch: prunes its work items, keeps its records without payloads, status archived.</summary>
    public async Task<bool> ArchiveAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var mark = connection.Command(
            """
            UPDATE batches SET status = 'archived', archived_at = @now, updated_at = @now
            WHERE id = @id AND outcome IS NOT NULL AND status <> 'archived'
            """, transaction).With("@id", id).With("@now", now))
        {
            if (await mark.ExecuteNonQueryAsync(cancellationToken) == 0)
                return false;
        }
        await using (var prune = connection.Command("DELETE FROM work_items WHERE batch_id = @id AND state <> 'in_flight'", transaction).With("@id", id))
            await prune.ExecuteNonQueryAsync(cancellationToken);
        await using (var compact = connection.Command(
            "UPDATE batch_records SET payload = NULL, tier = NULL WHERE batch_id = @id", transaction).With("@id", id))
            await compact.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private const string SelectBatch =
        """
        SELECT id, data_type, status, outcome, content_type, bytes, total, invalid, registered_line, deadline, callback_url,
               callback_attempts, callback_next_at, callback_delivered_at, callback_last_error, error, created_at, validated_at,
               finished_at, archived_at, updated_at,
               (SELECT MAX(line) FROM batch_records r WHERE r.batch_id = batches.id) AS last_line
        FROM batches
        """;

    private static async Task<IReadOnlyList<BatchRow>> ReadBatchesAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<BatchRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(ReadBatch(reader));
        return rows;
    }

    private static BatchRow ReadBatch(DbDataReader r) =>
        new(r.GetString(r.GetOrdinal("id")), r.GetString(r.GetOrdinal("data_type")), r.GetString(r.GetOrdinal("status")),
            r.Get<string>("outcome"), r.GetString(r.GetOrdinal("content_type")), r.GetInt64("bytes"), (int)r.GetInt64("total"),
            (int)r.GetInt64("invalid"), r.GetInt64("registered_line"), r.GetTime("deadline"), r.Get<string>("callback_url"),
            (int)r.GetInt64("callback_attempts"), r.GetTime("callback_next_at"), r.GetTime("callback_delivered_at"),
            r.Get<string>("callback_last_error"), r.Get<string>("error"), r.GetTime("created_at")!.Value, r.GetTime("validated_at"),
            r.GetTime("finished_at"), r.GetTime("archived_at"), r.GetTime("updated_at")!.Value)
        {
            LastLine = r.IsDBNull(r.GetOrdinal("last_line")) ? 0 : r.GetInt64("last_line"),
        };
}

using System.Data.Common;
using BatchScheduler.Configuration;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.WorkItems;

/// <summary>
/// Reads and writes the <c>work_items</c> and <c>failures</c> tables: the state that tells the
/// truth. Only the coordinator writes <c>updates_start</c>/<c>updates_end</c>.
/// </summary>
internal sealed class WorkItemStore(ConnectionFactory connections, IOptions<ClusterOptions> cluster, PostgresStatistics statistics)
{
    private const string UniqueViolation = "23505";
    private const string DeadlockDetected = "40P01";

    /// <summary>How many times a registration runs before a deadlock is the caller's error.</summary>
    private const int DeadlockAttempts = 3;

    /// <summary>How many ids of a large registration are looked up before it is taken to be all new.</summary>
    private const int AllNewSample = 64;
    private readonly string _schedulerName = cluster.Value.SchedulerName;

    /// <summary>
    /// Inserts new items and updates existing ones in one transaction; never duplicates. On
    /// PostgreSQL and SQLite, when <paramref name="newTriggers"/> is given, the regular triggers of new items
    /// (not in tier <c>exclude</c>) are written in the same transaction, straight into Quartz's
    /// tables; those outcomes come back <see cref="RegistrationOutcome.Armed"/>, in entity-id order.
    /// </summary>
    /// <remarks>
    /// Rows are written in entity-id order (ordinal), whatever the request's order, so registrations
    /// sharing items take those rows' locks in one order: the later one waits for the earlier rather
    /// than each waiting on a row the other inserted, a deadlock PostgreSQL breaks only after
    /// <c>deadlock_timeout</c> (1 s) by failing one of them. New items are still due in request order.
    /// </remarks>
    public async Task<IReadOnlyList<RegistrationOutcome>> RegisterAsync(
        string dataType, IReadOnlyList<WorkItemRegistration> items, DateTimeOffset now, NewItemTriggers? newTriggers,
        CancellationToken cancellationToken)
    {
        var dueOrder = new Dictionary<string, long>(items.Count, StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
            dueOrder.TryAdd(items[i].EntityId, i + 1);
        var ordered = items.OrderBy(i => i.EntityId, StringComparer.Ordinal).ToList();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RegisterOnceAsync(dataType, ordered, dueOrder, now, newTriggers, cancellationToken);
            }
            catch (DbException e) when (e.SqlState == DeadlockDetected && attempt < DeadlockAttempts)
            {
                // A writer that locks these rows in another order (not a registration: they all write in
                // entity-id order) waited on this one while it waited on them, and PostgreSQL failed
                // this one to break the cycle. Its transaction rolled back whole; run it again.
            }
        }
    }

    /// <summary>One try of <see cref="RegisterAsync"/>: <paramref name="items"/> in write order, <paramref name="dueOrder"/> each one's position in the request.</summary>
    private async Task<IReadOnlyList<RegistrationOutcome>> RegisterOnceAsync(
        string dataType, IReadOnlyList<WorkItemRegistration> items, IReadOnlyDictionary<string, long> dueOrder, DateTimeOffset now,
        NewItemTriggers? newTriggers, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (connections.Provider == StorageProvider.Postgres && items.Count >= PostgresStatistics.MinimumRows)
        {
            // This session may hold plans (the foreign-key checks' among them, before schema V007) made
            // when the tables were tiny: a sequential scan per inserted row, 8 s for 10,000 new items
            // after a 100-item registration. Replanned now, they see the tables as they are.
            await using (var discard = connection.Command("DISCARD PLANS", transaction))
                await discard.ExecuteNonQueryAsync(cancellationToken);
            if (newTriggers is not null
                && await InsertAllNewAsync(connection, transaction, dataType, items, dueOrder, now, newTriggers, cancellationToken) is { } triggersWritten)
            {
                await transaction.CommitAsync(cancellationToken);
                statistics.Registered(items.Count);
                return items.Select(i => new RegistrationOutcome(i, false, null, null, Armed: i.Tier == Tiers.Exclude || triggersWritten > 0)).ToList();
            }
        }
        var existing = await ExistingTiersAsync(connection, transaction, dataType, items, cancellationToken);
        var armed = new HashSet<string>(StringComparer.Ordinal);
        if (connections.Provider == StorageProvider.Postgres)
        {
            var fresh = items.Where(i => !existing.ContainsKey(i.EntityId)).ToList();
            var stored = items.Where(i => existing.ContainsKey(i.EntityId)).ToList();
            if (fresh.Count > 0 && !await WithoutConflictAsync(transaction, () => WriteItemsAsync(connection, transaction, PostgresBulk.InsertWorkItems, dataType, fresh, now, cancellationToken), cancellationToken))
                await WriteItemsAsync(connection, transaction, PostgresBulk.UpsertWorkItems, dataType, fresh, now, cancellationToken);
            await WriteItemsAsync(connection, transaction, PostgresBulk.UpsertWorkItems, dataType, stored, now, cancellationToken);
            if (newTriggers is not null)
            {
                armed.UnionWith(fresh.Where(i => i.Tier == Tiers.Exclude).Select(i => i.EntityId));
                armed.UnionWith(await InsertTriggersAsync(
                    connection, transaction, dataType, fresh.Where(i => i.Tier != Tiers.Exclude).ToList(), dueOrder, now, newTriggers, cancellationToken));
            }
        }
        else
        {
            var dialect = connections.Dialect;
            var sqlite = connections.Provider == StorageProvider.Sqlite;
            // On SQLite, runs of items with small payloads go in as one JSON parameter each (json_each: one
            // statement, no parameter per field); an item with a large payload is bound as a parameter of its
            // own, as on SQL Server. Large payloads written as JSON made several transient copies of each one
            // on the large-object heap (the UTF-8 buffer as it grew, its string, SQLite's UTF-8 of that) and a
            // node sent four maximal registrations at once went past its documented peak (JsonBodyMemoryTests).
            foreach (var (run, asJson) in sqlite ? SqliteRuns(items, dialect.RowsPerStatement) : items.Chunk(dialect.RowsPerStatement).Select(c => ((IReadOnlyList<WorkItemRegistration>)c, false)))
            {
                if (asJson)
                {
                    await using var upsert = connection.Command(SqliteBulk.UpsertWorkItems, transaction)
                        .With("@dataType", dataType).With("@now", now).With("@rows", JsonRows(run, (json, i) =>
                        {
                            json.WriteStringValue(i.EntityId);
                            json.WriteStringValue(i.Tier);
                            json.WriteStringValue(i.Payload);
                            json.WriteStringValue(i.BatchId);
                            json.WriteStringValue(SqliteBulk.Time(i.RunAt?.ToUniversalTime()));
                        }));
                    await upsert.ExecuteNonQueryAsync(cancellationToken);
                    continue;
                }
                await using var command = connection.Command(dialect.UpsertWorkItems(run.Count), transaction).With("@now", now);
                for (var i = 0; i < run.Count; i++)
                {
                    command.With($"@d{i}", dataType).With($"@e{i}", run[i].EntityId).With($"@t{i}", run[i].Tier)
                        .With($"@p{i}", run[i].Payload).With($"@b{i}", run[i].BatchId).WithTime($"@w{i}", run[i].RunAt?.ToUniversalTime());
                }
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            if (sqlite && newTriggers is not null)
            {
                // As on PostgreSQL: new items' triggers written here, in the same transaction, not through Quartz.
                var fresh = items.Where(i => !existing.ContainsKey(i.EntityId)).ToList();
                armed.UnionWith(fresh.Where(i => i.Tier == Tiers.Exclude).Select(i => i.EntityId));
                armed.UnionWith(await InsertTriggersAsync(
                    connection, transaction, dataType, fresh.Where(i => i.Tier != Tiers.Exclude).ToList(), dueOrder, now, newTriggers, cancellationToken));
            }
        }
        await transaction.CommitAsync(cancellationToken);
        statistics.Registered(items.Count - existing.Count);
        return items.Select(i => existing.TryGetValue(i.EntityId, out var found)
            ? found with { Item = i }
            : new RegistrationOutcome(i, false, null, null, Armed: armed.Contains(i.EntityId))).ToList();
    }

    /// <summary>
    /// The usual large registration, of items none of which is stored: when none of
    /// <see cref="AllNewSample"/> ids spread over the request is stored, every item and its regular
    /// trigger go in with one plain insert (<see cref="BulkTriggerRows.InsertNewItemsWithTriggers"/>), with
    /// no existence check of each id (2 us an item). Returns how many triggers were written (0: the job
    /// is not stored, the caller schedules them through Quartz), or null, with nothing written, when an
    /// item is stored: one of the sample, or one the sample missed (the insert's unique violation).
    /// </summary>
    private async Task<int?> InsertAllNewAsync(
        DbConnection connection, DbTransaction transaction, string dataType, IReadOnlyList<WorkItemRegistration> items,
        IReadOnlyDictionary<string, long> dueOrder, DateTimeOffset now, NewItemTriggers triggers, CancellationToken cancellationToken)
    {
        var sample = Enumerable.Range(0, Math.Min(AllNewSample, items.Count)).Select(k => items[(int)((long)k * items.Count / AllNewSample)]).ToList();
        if ((await ExistingTiersAsync(connection, transaction, dataType, sample, cancellationToken)).Count > 0)
            return null;
        var cadences = items.Select(i => i.Tier == Tiers.Exclude ? null : triggers.CadenceOf(i.Tier)).ToList();
        await using var insert = connection.Command(BulkTriggerRows.InsertNewItemsWithTriggers, transaction)
            .With("@dataType", dataType).With("@now", now)
            .With("@e", items.Select(i => i.EntityId).ToArray())
            .With("@t", items.Select(i => i.Tier).ToArray())
            .With("@p", items.Select(i => i.Payload).ToArray())
            .With("@b", items.Select(i => i.BatchId).ToArray())
            .With("@w", RunAts(items))
            .With("@r", items.Zip(cadences, (i, c) => i.Tier == Tiers.Exclude ? (long?)null : c is null ? 0L : -1L).ToArray())
            .With("@i", cadences.Select(c => c?.Interval is { } every ? (long)every.TotalMilliseconds : 0L).ToArray())
            .With("@n", items.Select(i => dueOrder[i.EntityId]).ToArray())
            .With("@a", DueTicks(items, cadences, now, triggers.QuietHours))
            .With("@c", cadences.Select(c => c?.CronExpression).ToArray()).With("@tz", TimeZoneIdOf(cadences)).With("@cal", CalendarNameOf(dataType, triggers))
            .With("@sched", _schedulerName).With("@group", dataType).With("@jobName", triggers.JobName).With("@jobGroup", triggers.JobGroup)
            .With("@next", now.UtcTicks).With("@ahead", (now - WorkItemTriggers.NeverRunLead).UtcTicks);
        var written = 0;
        return await WithoutConflictAsync(transaction, async () => written = Convert.ToInt32(await insert.ExecuteScalarAsync(cancellationToken),
                System.Globalization.CultureInfo.InvariantCulture), cancellationToken)
            ? written
            : null;
    }

    /// <summary>
    /// Runs <paramref name="write"/> under a savepoint: false, with its writes rolled back, when it hit a
    /// unique violation. The plain inserts of rows that were not stored when this transaction looked
    /// (new items and their triggers) go this way, so the rare conflict (a concurrent registration of
    /// the same item, a trigger left without its item) costs a retry with conflict handling, not an error.
    /// </summary>
    private static async Task<bool> WithoutConflictAsync(DbTransaction transaction, Func<Task> write, CancellationToken cancellationToken)
    {
        const string savepoint = "plain_insert";
        await transaction.SaveAsync(savepoint, cancellationToken);
        try
        {
            await write();
            return true;
        }
        catch (DbException e) when (e.SqlState == UniqueViolation)
        {
            await transaction.RollbackAsync(savepoint, cancellationToken);
            return false;
        }
    }

    private static async Task WriteItemsAsync(
        DbConnection connection, DbTransaction transaction, string statement, string dataType, IReadOnlyList<WorkItemRegistration> items,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
            return;
        await using var command = connection.Command(statement, transaction)
            .With("@dataType", dataType).With("@now", now)
            .With("@e", items.Select(i => i.EntityId).ToArray())
            .With("@t", items.Select(i => i.Tier).ToArray())
            .With("@p", items.Select(i => i.Payload).ToArray())
            .With("@b", items.Select(i => i.BatchId).ToArray())
            .With("@w", RunAts(items));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Writes the regular triggers of <paramref name="items"/>, due now; returns the entity ids written.</summary>
    private async Task<IEnumerable<string>> InsertTriggersAsync(
        DbConnection connection, DbTransaction transaction, string dataType, IReadOnlyList<WorkItemRegistration> items,
        IReadOnlyDictionary<string, long> dueOrder, DateTimeOffset now, NewItemTriggers triggers, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
            return [];
        var cadences = items.Select(i => triggers.CadenceOf(i.Tier)).ToList();
        var entityIds = items.Select(i => i.EntityId).ToArray();
        var repeatCounts = cadences.Select(c => c is null ? 0L : -1L).ToArray();
        var intervals = cadences.Select(c => c?.Interval is { } every ? (long)every.TotalMilliseconds : 0L).ToArray();
        DbCommand Statement(string sql) => connection.Command(sql, transaction)
            .With("@sched", _schedulerName).With("@group", dataType).With("@jobName", triggers.JobName).With("@jobGroup", triggers.JobGroup)
            .With("@next", now.UtcTicks).With("@ahead", (now - WorkItemTriggers.NeverRunLead).UtcTicks)
            .With("@e", entityIds).With("@r", repeatCounts).With("@i", intervals).With("@n", items.Select(i => dueOrder[i.EntityId]).ToArray())
            .With("@a", DueTicks(items, cadences, now, triggers.QuietHours))
            .With("@c", cadences.Select(c => c?.CronExpression).ToArray()).With("@tz", TimeZoneIdOf(cadences)).With("@cal", CalendarNameOf(dataType, triggers));
        if (connections.Provider == StorageProvider.Sqlite)
        {
            var positions = items.Select(i => dueOrder[i.EntityId]).ToArray();
            var dueTicks = DueTicks(items, cadences, now, triggers.QuietHours);
            var rows = Enumerable.Range(0, items.Count)
                .Select(k => new SqliteTriggerRow(entityIds[k], repeatCounts[k], intervals[k], positions[k], dueTicks[k], cadences[k]?.CronExpression)).ToList();
            return await InsertSqliteTriggersAsync(connection, transaction, rows, (command, json) => command
                .With("@sched", _schedulerName).With("@group", dataType).With("@jobName", triggers.JobName).With("@jobGroup", triggers.JobGroup)
                .With("@next", now.UtcTicks).With("@ahead", (now - WorkItemTriggers.NeverRunLead).UtcTicks).With("@rows", json)
                .With("@tz", TimeZoneIdOf(cadences)).With("@cal", CalendarNameOf(dataType, triggers)), cancellationToken);
        }

        var plain = 0;
        var wrote = await WithoutConflictAsync(transaction, async () =>
        {
            await using (var insert = Statement(BulkTriggerRows.InsertNewRegularTriggers))
                plain = await insert.ExecuteNonQueryAsync(cancellationToken);
            if (plain == 0)
                return; // the job is not stored: the caller schedules them through Quartz
            await using var simple = Statement(BulkTriggerRows.InsertNewSimpleTriggers);
            await simple.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);
        if (wrote)
            return plain == 0 ? [] : entityIds;

        await using var command = Statement(BulkTriggerRows.InsertRegularTriggers);
        var written = new List<string>(items.Count);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            written.Add(reader.GetString(0));
        return written;
    }

    /// <summary>One row of <see cref="SqliteBulkTriggerRows"/>' @rows.</summary>
    private sealed record SqliteTriggerRow(string EntityId, long RepeatCount, long Interval, long Position, long? DueTicks, string? Cron);

    /// <summary>
    /// SQLite's <see cref="InsertTriggersAsync"/>: the trigger rows of <paramref name="rows"/> in one statement
    /// (<see cref="SqliteBulkTriggerRows.InsertTriggers"/>), then the simple- and cron-trigger rows of those written
    /// in another; <paramref name="bind"/> adds a statement's parameters, @rows the JSON given. Returns the entity ids written.
    /// </summary>
    private static async Task<IEnumerable<string>> InsertSqliteTriggersAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<SqliteTriggerRow> rows, Func<DbCommand, string, DbCommand> bind,
        CancellationToken cancellationToken)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        await using (var insert = bind(connection.Command(SqliteBulkTriggerRows.InsertTriggers, transaction), SqliteRowsJson(rows)))
        await using (var reader = await insert.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                written.Add(reader.GetString(0));
        }
        if (written.Count == 0)
            return [];
        var json = written.Count == rows.Count ? SqliteRowsJson(rows) : SqliteRowsJson(rows.Where(r => written.Contains(r.EntityId)).ToList());
        await using var details = bind(connection.Command(SqliteBulkTriggerRows.InsertTriggerDetails, transaction), json);
        await details.ExecuteNonQueryAsync(cancellationToken);
        return written;
    }

    /// <summary>@rows of <see cref="SqliteBulkTriggerRows"/>: <c>[[entity id, repeat count, interval ms, position, due ticks, cron], …]</c>.</summary>
    private static string SqliteRowsJson(IReadOnlyList<SqliteTriggerRow> rows) => JsonRows(rows, (json, row) =>
    {
        json.WriteStringValue(row.EntityId);
        json.WriteNumberValue(row.RepeatCount);
        json.WriteNumberValue(row.Interval);
        json.WriteNumberValue(row.Position);
        if (row.DueTicks is { } due)
            json.WriteNumberValue(due);
        else
            json.WriteNullValue();
        json.WriteStringValue(row.Cron);
    });

    /// <summary>A JSON array for SQLite's <c>json_each</c>, of what <paramref name="element"/> writes for each item.</summary>
    private static string Json<T>(IReadOnlyList<T> items, Action<System.Text.Json.Utf8JsonWriter, T> element)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(items.Count * 64 + 2);
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var item in items)
                element(json, item);
            json.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The largest payload, in characters, an item may have to be written inside SQLite's JSON upsert.</summary>
    private const int SqliteJsonPayloadChars = 2_048;

    /// <summary>How many payload characters one SQLite JSON upsert carries at most.</summary>
    private const int SqliteJsonChars = 1_000_000;

    /// <summary>
    /// <paramref name="items"/> in order, in runs: items with payloads of at most <see cref="SqliteJsonPayloadChars"/>
    /// written as JSON (<c>true</c>; at most <see cref="SqliteJsonChars"/> payload characters a run), the others
    /// as parameters (<c>false</c>; at most <paramref name="rowsPerStatement"/> a run).
    /// </summary>
    private static IEnumerable<(IReadOnlyList<WorkItemRegistration> Run, bool AsJson)> SqliteRuns(IReadOnlyList<WorkItemRegistration> items, int rowsPerStatement)
    {
        var run = new List<WorkItemRegistration>();
        var asJson = true;
        var chars = 0L;
        foreach (var item in items)
        {
            var size = item.Payload?.Length ?? 0;
            var small = size <= SqliteJsonPayloadChars;
            if (run.Count > 0 && (small != asJson || (small ? chars + size > SqliteJsonChars : run.Count == rowsPerStatement)))
            {
                yield return (run, asJson);
                (run, chars) = (new List<WorkItemRegistration>(), 0);
            }
            asJson = small;
            run.Add(item);
            chars += size;
        }
        if (run.Count > 0)
            yield return (run, asJson);
    }

    /// <summary>A JSON array of arrays, one an item, of the values <paramref name="fields"/> writes.</summary>
    private static string JsonRows<T>(IReadOnlyList<T> items, Action<System.Text.Json.Utf8JsonWriter, T> fields) => Json(items, (json, item) =>
    {
        json.WriteStartArray();
        fields(json, item);
        json.WriteEndArray();
    });

    /// <summary>
    /// When each item is due, in .NET ticks, where that is not simply now: its runAt when it lies ahead of
    /// <paramref name="now"/>; for a cron tier, its first tick at or after that (a cron item keeps its phase);
    /// inside quiet hours, their end. Null: due now (and placed early in due order as never run).
    /// </summary>
    private static long?[] DueTicks(IReadOnlyList<WorkItemRegistration> items, IReadOnlyList<Time.Cadence?> cadences, DateTimeOffset now, Time.QuietHoursCalendar? quiet) =>
        items.Select((i, k) =>
        {
            var at = i.RunAt is { } runAt && runAt > now ? runAt : (DateTimeOffset?)null;
            if (cadences[k] is { IsCron: true } cron)
                return cron.NextAfter((at ?? now).AddSeconds(-1), quiet)?.UtcTicks ?? (at ?? now).UtcTicks;
            if (quiet is not null && !quiet.IsTimeIncluded(at ?? now))
                return quiet.GetNextIncludedTimeUtc(at ?? now).UtcTicks;
            return at?.UtcTicks;
        }).ToArray();

    private static string? TimeZoneIdOf(IReadOnlyList<Time.Cadence?> cadences) =>
        cadences.FirstOrDefault(c => c is { IsCron: true })?.TimeZone.Id;

    private static string? CalendarNameOf(string dataType, NewItemTriggers triggers) =>
        triggers.QuietHours is null ? null : Time.QuietHoursCalendar.CalendarName(dataType);

    /// <summary>Each item's runAt as given (null: none), stored in <c>work_items.run_at</c>.</summary>
    private static DateTimeOffset?[] RunAts(IReadOnlyList<WorkItemRegistration> items) => items.Select(i => i.RunAt?.ToUniversalTime()).ToArray();

    private async Task<Dictionary<string, RegistrationOutcome>> ExistingTiersAsync(
        DbConnection connection, DbTransaction transaction, string dataType, IReadOnlyList<WorkItemRegistration> items, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, RegistrationOutcome>(StringComparer.Ordinal);
        if (connections.Provider == StorageProvider.Postgres)
        {
            await using var command = connection.Command(PostgresBulk.ExistingItems, transaction)
                .With("@sched", _schedulerName).With("@dataType", dataType).With("@ids", items.Select(i => i.EntityId).ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                result[reader.GetString(0)] = ReadOutcome(reader);
            return result;
        }
        if (connections.Provider == StorageProvider.Sqlite)
        {
            await using var command = connection.Command(SqliteBulk.ExistingItems, transaction)
                .With("@sched", _schedulerName).With("@dataType", dataType).With("@ids", Json(items, (json, i) => json.WriteStringValue(i.EntityId)));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                result[reader.GetString(0)] = ReadOutcome(reader);
            return result;
        }
        foreach (var chunk in items.Chunk(500))
        {
            var names = string.Join(", ", chunk.Select((_, i) => $"@e{i}"));
            await using var command = connection.Command(
                $"""
                SELECT work_items.entity_id, work_items.tier, work_items.updates_end, work_items.state,
                       CASE WHEN {SqlDialect.TriggerOrFiring} THEN work_items.entity_id END AS trigger_name,
                       {SqlDialect.OwedRunAt} AS owed_run_at
                FROM work_items
                WHERE work_items.data_type = @dataType AND work_items.entity_id IN ({names})
                """, transaction)
                .With("@sched", _schedulerName).With("@dataType", dataType);
            for (var i = 0; i < chunk.Length; i++)
                command.With($"@e{i}", chunk[i].EntityId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                result[reader.GetString(0)] = ReadOutcome(reader);
        }
        return result;
    }

    private static RegistrationOutcome ReadOutcome(DbDataReader reader) =>
        new(null!, true, reader.Get<string>("tier"), reader.GetTime("updates_end"),
            reader.GetString(reader.GetOrdinal("state")), !reader.IsDBNull(reader.GetOrdinal("trigger_name")), OwedRunAt: reader.GetTime("owed_run_at"));

    /// <summary>Which of <paramref name="entityIds"/> exist for <paramref name="dataType"/>.</summary>
    public async Task<HashSet<string>> ExistingEntityIdsAsync(string dataType, IReadOnlyList<string> entityIds, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var found = await ExistingTiersAsync(connection, transaction, dataType,
            entityIds.Select(id => new WorkItemRegistration(id, null, null)).ToList(), cancellationToken);
        return found.Keys.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Items of <paramref name="dataType"/> with no trigger (nor a firing of it under way, see
    /// <see cref="SqlDialect.TriggerOrFiring"/>) that are neither dead-lettered nor
    /// excluded, and, if in flight, owned by a node that is not alive or by <paramref name="nodeId"/>
    /// (which checks whether it still runs them): candidates for re-arming, decided by the caller.
    /// </summary>
    public async Task<IReadOnlyList<OrphanedItem>> FindWithoutTriggerAsync(string dataType, string nodeId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT work_items.entity_id, work_items.tier, work_items.state, work_items.updates_end, work_items.node_id, work_items.updates_start,
                   {SqlDialect.OwedRunAt} AS owed_run_at
            FROM work_items
            WHERE work_items.data_type = @dataType AND {SqlDialect.NoTriggerNorFiring}
              AND work_items.state <> 'dead_lettered' AND (work_items.tier IS NULL OR work_items.tier <> 'exclude')
              AND (work_items.state <> 'in_flight' OR work_items.node_id = @node OR {SqlDialect.OwnerNotAlive})
            """).With("@sched", _schedulerName).With("@dataType", dataType).With("@node", nodeId).With("@nowTicks", now.UtcTicks);
        var result = new List<OrphanedItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new OrphanedItem(reader.GetString(0), reader.Get<string>("tier"),
                reader.GetString(reader.GetOrdinal("state")), reader.GetTime("updates_end"), reader.Get<string>("node_id"),
                reader.GetTime("updates_start"), reader.GetTime("owed_run_at")));
        }
        return result;
    }

    /// <summary>
    /// Items of <paramref name="dataType"/> left <c>in_flight</c> by an attempt that nothing will resume: no
    /// firing of theirs is under way, their owner is gone (or released them on restart, node_id NULL), and
    /// their trigger is a regular one, due at their next cadence. A node killed after its executor returned
    /// and Quartz's completion (which deletes the fired row) was written, but before the attempt's end was,
    /// leaves such an item: no recovery firing comes, and its data would look in flight until its next
    /// cadence, which may be a day away. Candidates for running again now, decided by the caller.
    /// </summary>
    public async Task<IReadOnlyList<(string EntityId, string? Tier)>> FindInterruptedAsync(
        string dataType, string nodeId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT work_items.entity_id, work_items.tier
            FROM work_items
            WHERE work_items.data_type = @dataType AND work_items.state = 'in_flight'
              AND (work_items.tier IS NULL OR work_items.tier <> 'exclude')
              AND NOT EXISTS (SELECT 1 FROM qrtz_fired_triggers f
                              WHERE f.sched_name = @sched AND f.trigger_name = work_items.entity_id AND f.trigger_group = work_items.data_type)
              AND EXISTS (SELECT 1 FROM qrtz_triggers t
                          WHERE t.sched_name = @sched AND t.trigger_name = work_items.entity_id AND t.trigger_group = work_items.data_type
                            AND t.overlap_policy IS NULL)
              AND (work_items.node_id IS NULL OR (work_items.node_id <> @node AND {SqlDialect.OwnerNotAlive}))
            """).With("@sched", _schedulerName).With("@dataType", dataType).With("@node", nodeId).With("@nowTicks", now.UtcTicks);
        var result = new List<(string, string?)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((reader.GetString(0), reader.Get<string>("tier")));
        return result;
    }

    /// <summary>
    /// Writes <c>updates_start</c> unless another live node has the item in flight, and says which:
    /// started (with the item's tier and payload), busy elsewhere, or gone.
    /// </summary>
    public async Task<AttemptStart> BeginAttemptAsync(
        string dataType, string entityId, int attempt, string nodeId, bool runningHere, DateTimeOffset now, CancellationToken cancellationToken,
        DateTimeOffset? notStartedSince = null)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await BeginAttemptAsync(connection, null, dataType, entityId, attempt, nodeId, runningHere, now, notStartedSince, cancellationToken);
    }

    private async Task<AttemptStart> BeginAttemptAsync(
        DbConnection connection, DbTransaction? transaction, string dataType, string entityId, int attempt, string nodeId,
        bool runningHere, DateTimeOffset now, DateTimeOffset? notStartedSince, CancellationToken cancellationToken)
    {
        var recheck = connections.Provider == StorageProvider.Postgres;
        await using (var command = connection.Command(connections.Dialect.BeginAttempt + (recheck ? ";\n" + PostgresBulk.PausedGroups : ""), transaction)
            .With("@now", now).With("@attempt", attempt).With("@node", nodeId)
            .With("@since", notStartedSince ?? AttemptRequest.NoGuard)
            .With("@dataType", dataType).With("@entityId", entityId).With("@sched", _schedulerName)
            .With("@runningHere", runningHere ? 1 : 0).With("@nowTicks", now.UtcTicks).With("@fenceFloor", AttemptRequest.FloorAt(now)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                var started = AttemptStart.Started(reader.Get<string>("tier"), reader.Get<string>("payload"), reader.GetInt64(reader.GetOrdinal("fence")));
                return recheck && (await PausedGroupsAsync(reader, cancellationToken)).Contains(dataType) ? started with { PausedAsItStarted = true } : started;
            }
        }
        return await OwnerAsync(connection, transaction, dataType, entityId, _schedulerName, cancellationToken);
    }

    /// <summary>The data types paused just after a start, from <see cref="PostgresBulk.PausedGroups"/>, the reader's next result.</summary>
    private static async Task<HashSet<string>> PausedGroupsAsync(DbDataReader reader, CancellationToken cancellationToken)
    {
        var paused = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken)) { }
        if (!await reader.NextResultAsync(cancellationToken))
            return paused;
        while (await reader.ReadAsync(cancellationToken))
            paused.Add(reader.GetString(0));
        return paused;
    }

    /// <summary>Why an item did not start: gone, excluded, paused (or its data type), busy on the node that has it in flight, or started since the request's guard (stale).</summary>
    private static async Task<AttemptStart> OwnerAsync(
        DbConnection connection, DbTransaction? transaction, string dataType, string entityId, string schedulerName, CancellationToken cancellationToken)
    {
        await using var owner = connection.Command(
            $"""
            SELECT node_id, state, updates_start, tier, CASE WHEN {SqlDialect.NotPaused} THEN 0 ELSE 1 END AS paused
            FROM work_items WHERE data_type = @dataType AND entity_id = @entityId
            """, transaction)
            .With("@dataType", dataType).With("@entityId", entityId).With("@sched", schedulerName);
        await using var reader = await owner.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return AttemptStart.Gone;
        if (reader.Get<string>("tier") == Tiers.Exclude)
            return AttemptStart.Excluded;
        if (Convert.ToInt32(reader.GetValue(4), System.Globalization.CultureInfo.InvariantCulture) == 1)
            return AttemptStart.Paused;
        return reader.GetString(1) == WorkItemStates.InFlight
            ? AttemptStart.BusyOn(reader.Get<string>("node_id") ?? "?")
            : AttemptStart.StaleSince(reader.GetTime("updates_start"));
    }

    /// <summary>
    /// <see cref="BeginAttemptAsync"/> for many items in one round trip (PostgreSQL) or one
    /// transaction (others), for a node that holds every item's claim. Items come back in the
    /// order given, each started, busy elsewhere or gone.
    /// </summary>
    public async Task<IReadOnlyList<AttemptStart>> BeginAttemptsAsync(
        IReadOnlyList<AttemptRequest> requests, string nodeId, CancellationToken cancellationToken)
    {
        if (connections.Provider != StorageProvider.Postgres)
            return await EachInOneTransactionAsync(requests, cancellationToken, (connection, transaction, r) =>
                BeginAttemptAsync(connection, transaction, r.DataType, r.EntityId, r.Attempt, nodeId, false, r.StartedAt, r.NotStartedSince, cancellationToken));

        await using var connection = await connections.OpenAsync(cancellationToken);
        var started = new Dictionary<(string, string), AttemptStart>();
        var paused = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = connection.Command(PostgresBulk.BeginAttempts + ";\n" + PostgresBulk.PausedGroups)
            .With("@node", nodeId).With("@sched", _schedulerName).With("@nowTicks", requests.Max(r => r.StartedAt).UtcTicks)
            .With("@d", requests.Select(r => r.DataType).ToArray())
            .With("@e", requests.Select(r => r.EntityId).ToArray())
            .With("@a", requests.Select(r => r.Attempt).ToArray())
            .With("@s", requests.Select(r => r.StartedAt).ToArray())
            .With("@ns", requests.Select(r => r.Since).ToArray())
            .With("@f", requests.Select(r => r.FenceFloor).ToArray()))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                started[(reader.GetString(0), reader.GetString(1))] = AttemptStart.Started(reader.Get<string>("tier"), reader.Get<string>("payload"), reader.GetInt64(4));
            paused = await PausedGroupsAsync(reader, cancellationToken);
        }
        foreach (var key in started.Keys.Where(k => paused.Contains(k.Item1)).ToList())
            started[key] = started[key] with { PausedAsItStarted = true };
        var result = new List<AttemptStart>(requests.Count);
        foreach (var r in requests)
            result.Add(started.TryGetValue((r.DataType, r.EntityId), out var start) ? start : await OwnerAsync(connection, null, r.DataType, r.EntityId, _schedulerName, cancellationToken));
        return result;
    }

    /// <summary>
    /// Writes <c>updates_end</c> for many successful attempts in one round trip (PostgreSQL) or one
    /// transaction (others), each only while its row still carries the attempt's fence. Returns the
    /// ends not written: their attempt was superseded (another start of the item since), or the item is gone.
    /// </summary>
    public async Task<IReadOnlyList<AttemptEnd>> CompleteManyAsync(IReadOnlyList<AttemptEnd> ends, CancellationToken cancellationToken)
    {
        if (connections.Provider != StorageProvider.Postgres)
        {
            var written = await EachInOneTransactionAsync(ends, cancellationToken,
                (connection, transaction, e) => CompleteAsync(connection, transaction, e, cancellationToken));
            return ends.Where((_, i) => !written[i]).ToList();
        }
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(PostgresBulk.CompleteAttempts)
            .With("@d", ends.Select(e => e.DataType).ToArray())
            .With("@e", ends.Select(e => e.EntityId).ToArray())
            .With("@t", ends.Select(e => e.EndedAt).ToArray())
            .With("@f", ends.Select(e => e.Fence).ToArray());
        var done = new HashSet<(string, string)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                done.Add((reader.GetString(0), reader.GetString(1)));
        }
        return done.Count == ends.Count ? [] : ends.Where(e => !done.Contains((e.DataType, e.EntityId))).ToList();
    }

    private async Task<IReadOnlyList<TResult>> EachInOneTransactionAsync<T, TResult>(
        IReadOnlyList<T> items, CancellationToken cancellationToken, Func<DbConnection, DbTransaction, T, Task<TResult>> write)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var results = new List<TResult>(items.Count);
        foreach (var item in items)
            results.Add(await write(connection, transaction, item));
        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    /// <summary>Writes <c>updates_end</c>: the attempt succeeded. False when its fence is no longer the item's (or the item is gone).</summary>
    public async Task<bool> CompleteAsync(AttemptEnd end, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        return await CompleteAsync(connection, null, end, cancellationToken);
    }

    private static async Task<bool> CompleteAsync(DbConnection connection, DbTransaction? transaction, AttemptEnd end, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(
            $"""
            UPDATE work_items SET {SqlDialect.WriteCompleted}, updates_end = @now, last_error = NULL, updated_at = @now
            WHERE data_type = @dataType AND entity_id = @entityId AND fence = @fence
            """, transaction).With("@now", end.EndedAt).With("@dataType", end.DataType).With("@entityId", end.EntityId).With("@fence", end.Fence);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<WorkItem?> GetAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"{SelectItems} WHERE w.data_type = @dataType AND w.entity_id = @entityId")
            .With("@sched", _schedulerName).With("@dataType", dataType).With("@entityId", entityId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadItem(reader) : null;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> items after (<paramref name="afterDataType"/>, <paramref name="afterEntityId"/>)
    /// in (data type, entity id) order, the primary key's: keyset paging, so page 10,000 costs what
    /// page 1 does. <paramref name="entityPrefix"/> keeps entity ids that start with it.
    /// </summary>
    public async Task<IReadOnlyList<WorkItem>> ListAfterAsync(
        WorkItemQuery query, string? entityPrefix, string? afterDataType, string? afterEntityId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        // Within one data type the key comparison is on entity_id alone, an index range of the key.
        var after = afterDataType is null ? ""
            : query.DataType is not null ? "AND w.entity_id > @afterId"
            : "AND (w.data_type > @afterType OR (w.data_type = @afterType AND w.entity_id > @afterId))";
        await using var command = connection.Command(
            $"""
            {SelectItems}
            WHERE (@dataType IS NULL OR w.data_type = @dataType)
              AND (@state IS NULL OR w.state = @state)
              AND (@tier IS NULL OR w.tier = @tier)
              AND (@prefix IS NULL OR w.entity_id LIKE @prefix ESCAPE '!')
              {after}
            ORDER BY w.data_type, w.entity_id {connections.Dialect.Page("@offset", "@limit")}
            """)
            .With("@sched", _schedulerName).With("@dataType", query.DataType).With("@state", query.State).With("@tier", query.Tier)
            .With("@prefix", entityPrefix is null ? null : EscapeLike(entityPrefix) + "%")
            .With("@afterType", afterDataType).With("@afterId", afterEntityId)
            .With("@offset", 0).With("@limit", limit);
        var items = new List<WorkItem>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(ReadItem(reader));
        return items;
    }

    internal static string EscapeLike(string value) =>
        value.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal).Replace("_", "!_", StringComparison.Ordinal);

    /// <summary>
    /// A page of items ordered by data type and entity id, and the total matching: <paramref name="countTotal"/>'s
    /// answer when given (the API's, from the health summary's counts), otherwise counted here.
    /// </summary>
    public async Task<(IReadOnlyList<WorkItem> Items, long Total)> ListAsync(
        WorkItemQuery query, CancellationToken cancellationToken, Func<CancellationToken, Task<long>>? countTotal = null)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        const string where = """
            WHERE (@dataType IS NULL OR w.data_type = @dataType)
              AND (@state IS NULL OR w.state = @state)
              AND (@tier IS NULL OR w.tier = @tier)
            """;
        DbCommand Filtered(string sql) => connection.Command(sql)
            .With("@dataType", query.DataType).With("@state", query.State).With("@tier", query.Tier);

        long total;
        if (countTotal is not null)
        {
            total = await countTotal(cancellationToken);
        }
        else
        {
            await using var count = Filtered($"SELECT COUNT(*) FROM work_items w {where}");
            total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }

        await using var page = Filtered(
            $"{SelectItems} {where} ORDER BY w.data_type, w.entity_id {connections.Dialect.Page("@offset", "@limit")}")
            .With("@sched", _schedulerName).With("@offset", (query.Page - 1) * query.PageSize).With("@limit", query.PageSize);
        var items = new List<WorkItem>(query.PageSize);
        await using var reader = await page.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(ReadItem(reader));
        return (items, total);
    }

    /// <summary>
    /// Gives the stored items among <paramref name="entityIds"/> tier <paramref name="tier"/> (payload, runAt and state
    /// untouched) and returns those whose tier changed, with their last end and owed runAt, for their re-arming.
    /// </summary>
    public async Task<IReadOnlyList<OrphanedItem>> RetierAsync(
        string dataType, IReadOnlyList<string> entityIds, string tier, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var changed = new List<OrphanedItem>();
        foreach (var chunk in entityIds.Order(StringComparer.Ordinal).Chunk(connections.Dialect.RowsPerStatement))
        {
            var names = string.Join(", ", chunk.Select((_, i) => $"@e{i}"));
            DbCommand Keyed(string sql)
            {
                var command = connection.Command(sql, transaction).With("@dataType", dataType).With("@tier", tier);
                for (var i = 0; i < chunk.Length; i++)
                    command.With($"@e{i}", chunk[i]);
                return command;
            }
            const string other = "data_type = @dataType AND (tier IS NULL OR tier <> @tier)";
            await using (var select = Keyed(
                $"SELECT entity_id, state, updates_end, node_id, {SqlDialect.OwedRunAt} AS owed_run_at FROM work_items WHERE {other} AND entity_id IN ({names})"))
            {
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    changed.Add(new OrphanedItem(reader.GetString(0), tier, reader.GetString(1), reader.GetTime("updates_end"),
                        reader.Get<string>("node_id"), OwedRunAt: reader.GetTime("owed_run_at")));
                }
            }
            await using var update = Keyed($"UPDATE work_items SET tier = @tier, updated_at = @now WHERE {other} AND entity_id IN ({names})").With("@now", now);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    /// <summary>Deletes the item's row; its failure rows stay as history. False when there was none.</summary>
    public async Task<bool> DeleteAsync(string dataType, string entityId, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command("DELETE FROM work_items WHERE data_type = @dataType AND entity_id = @entityId")
            .With("@dataType", dataType).With("@entityId", entityId);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    private const string SelectItems =
        """
        SELECT w.data_type, w.entity_id, w.tier, w.state, w.updates_start, w.updates_end, w.attempt,
               w.last_error, w.batch_id, w.payload, t.next_fire_time, t.start_time, w.paused_at, w.paused_by, w.paused_reason
        FROM work_items w
        LEFT JOIN qrtz_triggers t
          ON t.sched_name = @sched AND t.trigger_group = w.data_type AND t.trigger_name = w.entity_id
        """;

    private static WorkItem ReadItem(DbDataReader r)
    {
        var nextFire = r.IsDBNull(r.GetOrdinal("next_fire_time")) ? 0L : r.GetInt64("next_fire_time");
        DateTimeOffset? nextRun = nextFire > 0
            ? WorkItemTriggers.DueTime(new DateTimeOffset(nextFire, TimeSpan.Zero), new DateTimeOffset(r.GetInt64("start_time"), TimeSpan.Zero))
            : null;
        var payload = r.Get<string>("payload");
        return new WorkItem(
            r.GetString(r.GetOrdinal("data_type")),
            r.GetString(r.GetOrdinal("entity_id")),
            r.Get<string>("tier"),
            r.GetString(r.GetOrdinal("state")),
            r.GetTime("updates_start"),
            r.GetTime("updates_end"),
            (int)r.GetInt64("attempt"),
            nextRun,
            r.Get<string>("last_error"),
            r.Get<string>("batch_id"),
            StoredJson.Parse(payload),
            r.GetTime("paused_at") is { } pausedAt ? new PauseNote(pausedAt, r.Get<string>("paused_by"), r.Get<string>("paused_reason")) : null);
    }
}

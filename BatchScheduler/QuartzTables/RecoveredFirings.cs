using System.Data.Common;
using System.Text.Json;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Puts recovered firings first: the triggers Quartz stores to run a dead node's interrupted
/// executions again are moved to the front of Quartz's due order, ahead of never-run and due items.
/// </summary>
/// <remarks>
/// <para>
/// Written against Quartz.NET 4.7.3's own rows. Its cluster recovery (<c>AdoJobStoreBase.StoreRecoveryTrigger</c>,
/// also used by a non-clustered store's recovery at start) stores, per interrupted execution of a job
/// that requests recovery, a one-shot simple trigger in group <c>RECOVERING_JOBS</c>, <c>WAITING</c>,
/// starting and due at the time the execution fired. Quartz acquires by <c>next_fire_time</c>, then
/// priority; a never-run item's first firing is placed <see cref="WorkItemTriggers.NeverRunLead"/>
/// (30 days) before its due time, so a recovered firing came after the whole never-run backlog and
/// every item due before it fired (measured: 53 s instead of 9–11 s with 3,000 items due). Quartz
/// offers no hook after recovery; this statement is run where the next acquisition follows it (each
/// set-based round on PostgreSQL, and after Quartz's start elsewhere).
/// </para>
/// <para>
/// Only <c>next_fire_time</c> changes, to <see cref="Front"/>: just inside Quartz's misfire threshold,
/// so earlier than every trigger Quartz still fires by due order, and not misfired for a day (past
/// that, Quartz's misfire handler fires it now, and the next move puts it in front again). The
/// trigger's start time, which Quartz set to the original fire time and which the coordinator reads
/// as a recovered firing's due time (<see cref="FiringData"/>), and its job data are left as they
/// are, so expiry still counts from when the item was due. What Quartz reports as the firing's
/// scheduled time is the moved one. A row another transaction holds (a node claiming it) is
/// skipped on PostgreSQL: it is being fired or moved already.
/// </para>
/// </remarks>
internal static class RecoveredFirings
{
    /// <summary>Quartz's group of recovery triggers (<c>SchedulerConstants.DefaultRecoveryGroup</c>).</summary>
    public const string Group = Quartz.SchedulerConstants.DefaultRecoveryGroup;

    /// <summary>How long a moved trigger stays inside Quartz's misfire threshold.</summary>
    public static readonly TimeSpan MisfireMargin = TimeSpan.FromDays(1);

    /// <summary>
    /// Moves waiting recovery triggers (@sched) not yet in front to @front, returning their names. Served by
    /// the partial index <c>idx_qrtz_t_recovering</c> (V010), which holds recovery triggers only, so in a
    /// round with nothing recovered it reads an empty index.
    /// </summary>
    public const string MoveAheadPostgres =
        $"""
        UPDATE qrtz_triggers t SET next_fire_time = @front
        FROM (SELECT trigger_name, trigger_group FROM qrtz_triggers
              WHERE sched_name = @sched AND trigger_group = '{Group}' AND next_fire_time > @front AND trigger_state = 'WAITING'
              FOR UPDATE SKIP LOCKED) r
        WHERE t.sched_name = @sched AND t.trigger_name = r.trigger_name AND t.trigger_group = r.trigger_group
        RETURNING t.trigger_name
        """;

    /// <summary>The same for SQLite and SQL Server, run once after Quartz's start.</summary>
    public const string MoveAhead =
        $"""
        UPDATE qrtz_triggers SET next_fire_time = @front
        WHERE sched_name = @sched AND trigger_group = '{Group}' AND next_fire_time > @front AND trigger_state = 'WAITING'
        """;

    /// <summary>Where moved triggers go: <paramref name="misfireThreshold"/> before now, less <see cref="MisfireMargin"/>.</summary>
    public static DateTimeOffset Front(DateTimeOffset now, TimeSpan misfireThreshold) =>
        now - misfireThreshold + (misfireThreshold > MisfireMargin * 2 ? MisfireMargin : misfireThreshold / 2);

    /// <summary>
    /// The entity ids of <paramref name="dataType"/> that a recovery trigger stands for: Quartz stored it
    /// (<c>StoreRecoveryTrigger</c>) in the transaction that deleted the interrupted firing's fired row, and
    /// it stays until its own firing completes (it is never a plain trigger, so Quartz's round fires it
    /// and keeps it <c>COMPLETE</c> meanwhile). Such an item will be run again by it: whoever finds the
    /// item in flight with no fired row of its own must not arm a second run. The original trigger's key
    /// is in the trigger's job data, which is Quartz's JSON map of strings (<c>UseSystemTextJsonSerializer</c>).
    /// </summary>
    public static async Task<HashSet<string>> PendingForAsync(
        DbConnection connection, DbTransaction? transaction, string schedulerName, string dataType, CancellationToken cancellationToken)
    {
        var pending = new HashSet<string>(StringComparer.Ordinal);
        await using var command = connection.Command(
            $"SELECT job_data FROM qrtz_triggers WHERE sched_name = @sched AND trigger_group = '{Group}' AND job_data IS NOT NULL", transaction)
            .With("@sched", schedulerName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (OriginalKey((byte[])reader.GetValue(0)) is ({ } group, { } name) && group == dataType)
                pending.Add(name);
        }
        return pending;
    }

    /// <summary>The group and name of the trigger a recovery trigger's job data says it stands for.</summary>
    internal static (string? Group, string? Name) OriginalKey(byte[] jobData)
    {
        try
        {
            using var json = JsonDocument.Parse(jobData);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                return (null, null);
            return (Text(json.RootElement, Quartz.SchedulerConstants.FailedJobOriginalTriggerGroup),
                    Text(json.RootElement, Quartz.SchedulerConstants.FailedJobOriginalTriggerName));
        }
        catch (JsonException)
        {
            return (null, null);
        }

        static string? Text(JsonElement map, string key) =>
            map.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>Runs <see cref="MoveAhead"/> (<see cref="MoveAheadPostgres"/> on PostgreSQL); the number of triggers moved.</summary>
    public static async Task<int> MoveAheadAsync(DbConnection connection, StorageProvider provider, string schedulerName, DateTimeOffset front,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(provider == StorageProvider.Postgres ? MoveAheadPostgres : MoveAhead)
            .With("@sched", schedulerName).With("@front", front.UtcTicks);
        if (provider != StorageProvider.Postgres)
            return await command.ExecuteNonQueryAsync(cancellationToken);
        var moved = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            moved++;
        return moved;
    }
}

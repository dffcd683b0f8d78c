using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl.Triggers;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Fires a round of due work-item triggers on PostgreSQL in three statements, whatever its size:
/// one claims and reads them, one writes what Quartz writes when it fires them, one commits. Quartz's
/// own round claims, fires and re-stores each trigger with statements of its own, four per firing.
/// </summary>
/// <remarks>
/// <para>
/// The rows are Quartz's own and end as Quartz leaves them: a repeating trigger moved on by Quartz's
/// own <see cref="IOperableTrigger.Triggered"/> (<c>WAITING</c> at its next fire time, its
/// simple-trigger row's fire count up), and a <c>QRTZ_FIRED_TRIGGERS</c> row in state
/// <c>EXECUTING</c> for this node with the job's recovery flag. So Quartz runs, completes and, after
/// a node dies, recovers these firings exactly as it does the ones it fires itself; what it hands the
/// scheduler is what its own round would.
/// </para>
/// <para>
/// One difference: a spent one-shot trigger is deleted, with its simple-trigger row, as it fires,
/// where Quartz keeps it <c>COMPLETE</c> until the firing completes and deletes it then. Nothing
/// needs that row while the firing runs: Quartz's completion deletes a spent trigger only if its row
/// is still there with no next fire time, and deletes the fired row by its entry id either way;
/// recovery rebuilds a firing from its fired row (a plain trigger has no job data to read back); a
/// retry or re-arm scheduled while it runs stores a new trigger under the key. BatchScheduler's own
/// "has a trigger" checks (trigger repair, registration) count the fired row as the trigger
/// (<see cref="SqlDialect.TriggerOrFiring"/>). Updating the row to <c>COMPLETE</c> wrote a new entry
/// in each of its four indexes and deleting it later cost a second statement: 61 of the 130 us of
/// PostgreSQL time per one-shot firing, now 23; draining no-op items went from 4,300–5,400/s to
/// 6,200–6,400/s on one node.
/// </para>
/// <para>
/// The claim is Quartz 4.7's lock-free claim done for a set: the due rows are locked with
/// <c>FOR UPDATE SKIP LOCKED</c> and re-checked by PostgreSQL as they are locked, so a row another node
/// is claiming or has fired is passed over, and Quartz's compare-and-swap claim of a row fired here
/// finds it changed. Only plain firings are taken: a simple or cron trigger of a work-item job (its
/// quiet-hours calendar, if it names one, applied as Quartz's own firing applies it), with no job
/// data, overlap policy, retry attempt, continuation, execution group, preferred node,
/// fixed delay or misfire of its own, not misfired. Everything else (one-offs, which carry job data,
/// recovery firings, misfires) is left to Quartz's own round, which runs after this one when such
/// triggers are due too.
/// </para>
/// <para>
/// The claim's round trip first moves recovery triggers to the front of the due order
/// (<see cref="RecoveredFirings"/>), so that a dead node's interrupted executions run before any
/// backlog; with nothing recovered that statement reads an empty partial index.
/// </para>
/// </remarks>
internal sealed class SetFiringRounds
{
    /// <summary>In the entry id (<c>QRTZ_FIRED_TRIGGERS.ENTRY_ID</c>) of every firing these rounds make.</summary>
    public const string EntryMarker = "~set~";

    /// <summary>Job details are read from Quartz again after this long (they change only on deploys).</summary>
    private static readonly TimeSpan JobCacheLifetime = TimeSpan.FromMinutes(1);

    /// <summary>The claim's columns (the reader's ordinals follow them).</summary>
    private const string ClaimColumns =
        """
        t.trigger_name, t.trigger_group, t.job_name, t.job_group, t.description, t.next_fire_time,
               t.prev_fire_time, t.priority, t.start_time, t.end_time, t.misfire_instr,
               s.repeat_count, s.repeat_interval, s.times_triggered,
               (((t.trigger_type = 'SIMPLE' AND s.trigger_name IS NOT NULL) OR (t.trigger_type = 'CRON' AND c.trigger_name IS NOT NULL))
                AND t.job_group = @jobGroup AND t.job_data IS NULL AND t.overlap_policy IS NULL
                AND t.continues_trigger_name IS NULL AND t.execution_group IS NULL AND t.preferred_node IS NULL
                AND t.fixed_delay IS NULL AND t.misfire_threshold IS NULL AND t.misfire_orig_fire_time IS NULL
                AND COALESCE(t.retry_attempt, 0) = 0 AND t.retry_policy = 'none' AND t.next_fire_time >= @misfired) AS plain,
               c.cron_expression, c.time_zone_id, t.calendar_name
        FROM qrtz_triggers t
        LEFT JOIN qrtz_simple_triggers s
          ON s.sched_name = t.sched_name AND s.trigger_name = t.trigger_name AND s.trigger_group = t.trigger_group
        LEFT JOIN qrtz_cron_triggers c
          ON c.sched_name = t.sched_name AND c.trigger_name = t.trigger_name AND c.trigger_group = t.trigger_group
        """;

    /// <summary>The claim in due order over all groups (Quartz's <c>idx_qrtz_t_nft_st</c>).</summary>
    private const string Claim =
        "SELECT " + ClaimColumns + "\n" +
        """
        WHERE t.sched_name = @sched AND t.trigger_state = 'WAITING' AND t.next_fire_time <= @now
        ORDER BY t.next_fire_time, t.priority DESC
        LIMIT @n
        FOR UPDATE OF t SKIP LOCKED
        """;

    /// <summary>
    /// The claim when some data types are limited or not executed here (<see cref="Limits.DataTypeLimits"/>): each
    /// group this round may fire (<c>@claimGroups</c>) claimed in its own due order (<c>idx_qrtz_t_g_st_nft</c>, V017), then
    /// merged. In one due order over all groups, every claim would step over the waiting items of the groups it may not
    /// take, which are the stalest when a limit holds them back: 100,000 of them cut a drain beside them to 0.4×.
    /// A group's rows beyond the merged <c>@n</c> stay locked until the round commits and other nodes pass over them.
    /// </summary>
    private const string ClaimByGroup =
        """
        SELECT x.* FROM unnest(@claimGroups::text[]) AS g(name)
        CROSS JOIN LATERAL (
          SELECT
        """ + "\n" + ClaimColumns + "\n" +
        """
          WHERE t.sched_name = @sched AND t.trigger_group = g.name AND t.trigger_state = 'WAITING' AND t.next_fire_time <= @now
          ORDER BY t.next_fire_time, t.priority DESC
          LIMIT @n
          FOR UPDATE OF t SKIP LOCKED
        ) x
        ORDER BY x.next_fire_time, x.priority DESC
        LIMIT @n
        """;

    private const string Fire =
        """
        WITH u AS (
          SELECT * FROM unnest(@names::text[], @groups::text[], @next::bigint[], @prev::bigint[], @states::text[],
                               @times::integer[], @entries::text[], @scheduled::bigint[], @priorities::integer[],
                               @jobNames::text[], @jobGroups::text[], @recovery::boolean[])
            AS u(n, g, next_fire_time, prev_fire_time, state, times_triggered, entry_id, sched_time, priority, job_name, job_group, requests_recovery)
        ), spent AS (
          DELETE FROM qrtz_triggers t
          USING u WHERE u.state = 'COMPLETE' AND t.sched_name = @sched AND t.trigger_name = u.n AND t.trigger_group = u.g
        ), spent_simple AS (
          DELETE FROM qrtz_simple_triggers s
          USING u WHERE u.state = 'COMPLETE' AND s.sched_name = @sched AND s.trigger_name = u.n AND s.trigger_group = u.g
        ), spent_cron AS (
          DELETE FROM qrtz_cron_triggers c
          USING u WHERE u.state = 'COMPLETE' AND c.sched_name = @sched AND c.trigger_name = u.n AND c.trigger_group = u.g
        ), t AS (
          UPDATE qrtz_triggers t
          SET next_fire_time = u.next_fire_time, prev_fire_time = u.prev_fire_time, trigger_state = u.state
          FROM u WHERE u.state <> 'COMPLETE' AND t.sched_name = @sched AND t.trigger_name = u.n AND t.trigger_group = u.g
        ), s AS (
          UPDATE qrtz_simple_triggers s SET times_triggered = u.times_triggered
          FROM u WHERE u.state <> 'COMPLETE' AND s.sched_name = @sched AND s.trigger_name = u.n AND s.trigger_group = u.g
        )
        INSERT INTO qrtz_fired_triggers (sched_name, entry_id, trigger_name, trigger_group, instance_name, fired_time,
                                         sched_time, priority, state, job_name, job_group, is_nonconcurrent,
                                         requests_recovery, execution_group)
        SELECT @sched, u.entry_id, u.n, u.g, @instance, @firedTime, u.sched_time, u.priority, 'EXECUTING',
               u.job_name, u.job_group, false, u.requests_recovery, NULL
        FROM u
        """;

    private readonly string _claim;
    private readonly string[]? _groups;
    private readonly HashSet<string> _limited;
    private readonly ConnectionFactory _connections;
    private readonly string _schedulerName;
    private readonly string _instanceId;
    private readonly TimeSpan _misfireThreshold;
    private readonly TimeProvider _time;
    private readonly Func<JobKey, ValueTask<IJobDetail?>> _retrieveJob;
    private readonly Func<string, ValueTask<ICalendar?>> _retrieveCalendar;
    private readonly ConcurrentDictionary<JobKey, (IJobDetail? Value, DateTimeOffset ReadAt)> _jobs = new();
    private readonly ConcurrentDictionary<string, (ICalendar? Value, DateTimeOffset ReadAt)> _calendars = new(StringComparer.Ordinal);
    private readonly string _entryPrefix;
    private long _entries;
    private long _fired;
    private long _recoveredMoved;

    public SetFiringRounds(ConnectionFactory connections, string schedulerName, string instanceId, TimeSpan misfireThreshold,
        TimeProvider time, Func<JobKey, ValueTask<IJobDetail?>> retrieveJob, Func<string, ValueTask<ICalendar?>> retrieveCalendar,
        Limits.DataTypeLimits? limits = null)
    {
        // Limited and forbidden data types are left out: only the groups this round may fire are claimed, each by its
        // own index range, so a backlog of the others is never read (recovery triggers too, to see them due).
        _groups = limits?.KeptFromSetRounds.Any() == true
            ? [.. limits.Served.Where(d => !limits.Limited.Any(l => l.DataType == d)), RecoveredFirings.Group]
            : null;
        _limited = new HashSet<string>(limits?.Limited.Select(l => l.DataType) ?? [], StringComparer.Ordinal);
        _claim = _groups is null ? Claim : ClaimByGroup;
        _retrieveCalendar = retrieveCalendar;
        _connections = connections;
        _schedulerName = schedulerName;
        _instanceId = instanceId;
        _misfireThreshold = misfireThreshold;
        _time = time;
        _retrieveJob = retrieveJob;
        // Quartz's own entry ids are the instance id and a counter; these never meet them, nor the
        // ids of an earlier process of the same node that recovery has not cleared yet.
        _entryPrefix = string.Create(CultureInfo.InvariantCulture, $"{instanceId}{EntryMarker}{time.GetUtcNow().UtcTicks:x}~");
    }

    /// <summary>Whether these rounds (this process's) fired <paramref name="trigger"/>'s firing.</summary>
    public bool FiredHere(IOperableTrigger trigger) =>
        trigger.FireInstanceId?.StartsWith(_entryPrefix, StringComparison.Ordinal) == true;

    /// <summary>
    /// Whether a limited data type this node executes may have a slot free in <paramref name="limits"/> (as
    /// Quartz hands them to the store): then Quartz's round must follow this one, since only it fires those.
    /// </summary>
    public bool LimitedMayStart(ExecutionLimits? limits) =>
        _limited.Count > 0 && limits is not null && limits.Groups.Any(l => l.Group.Name is { } name && _limited.Contains(name) && l.MaxConcurrent != 0);

    /// <summary>Firings made by these rounds so far (for tests and logs).</summary>
    public long Fired => Interlocked.Read(ref _fired);

    /// <summary>Recovery triggers these rounds moved to the front of the due order (<see cref="RecoveredFirings"/>).</summary>
    public long RecoveredMoved => Interlocked.Read(ref _recoveredMoved);

    /// <summary>
    /// Claims and fires up to <paramref name="maxCount"/> plain triggers that are due now, in due
    /// order. <see cref="Round.OthersDue"/> says whether due triggers of other kinds were seen among
    /// them, which Quartz's own round must fire.
    /// </summary>
    public async Task<Round> FireDueAsync(int maxCount, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        await using var connection = await _connections.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var rows = new List<Row>(maxCount);
        var othersDue = false;
        // Recovered firings first (RecoveredFirings): moved to the front in the same round trip, so this
        // claim already sees them there, and Quartz's round that follows fires them.
        await using var claim = connection.Command(RecoveredFirings.MoveAheadPostgres + ";\n" + _claim, transaction)
            .With("@sched", _schedulerName).With("@jobGroup", WorkItemKeys.JobGroup).With("@front", RecoveredFirings.Front(now, _misfireThreshold).UtcTicks)
            .With("@now", now.UtcTicks).With("@misfired", (now - _misfireThreshold).UtcTicks).With("@n", maxCount);
        if (_groups is not null)
            claim.With("@claimGroups", _groups);
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                Interlocked.Increment(ref _recoveredMoved);
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (!reader.GetBoolean(14))
                {
                    othersDue = true;
                    continue;
                }
                rows.Add(Row.Read(reader));
            }
        }

        var due = new List<IOperableTrigger>(rows.Count);
        var fired = new List<TriggerFiredResult>(rows.Count);
        var write = new FireColumns(rows.Count);
        var firedAt = _time.GetUtcNow();
        foreach (var row in rows)
        {
            var job = await JobAsync(row.JobKey);
            if (job is not { Durable: true, ConcurrentExecutionDisallowed: false, PersistJobDataAfterExecution: false })
            {
                othersDue = true; // left locked until the commit, then Quartz's round takes it
                continue;
            }
            var calendar = row.CalendarName is { } calendarName ? await CalendarAsync(calendarName) : null;
            if (row.CalendarName is not null && calendar is null)
            {
                othersDue = true; // a calendar it names that is not stored: Quartz's own round decides
                continue;
            }
            var trigger = row.ToTrigger(_time);
            trigger.FireInstanceId = _entryPrefix + Interlocked.Increment(ref _entries).ToString(CultureInfo.InvariantCulture);
            var scheduled = trigger.NextFireTimeUtc;
            var previous = trigger.PreviousFireTimeUtc;
            // As Quartz's own firing does: the next fire time steps over times the trigger's calendar excludes.
            trigger.Triggered(calendar);
            // A repeating trigger fired so late that its next time has passed too (its nodes were down, a backlog)
            // steps over the times it missed to its first one after now, keeping its phase: this firing is the one
            // run they get. Quartz would fire it again at once for each, every firing late, and each late firing of
            // a recurring item then moved its trigger under the item's lock (FiringAdmission's catch-up): after an
            // hour down at the seeds' scale, 110 items a second instead of the set-based rate.
            if (trigger.NextFireTimeUtc is { } next && next <= firedAt)
            {
                var after = trigger.GetFireTimeAfter(firedAt);
                while (after is { } excluded && calendar is not null && !calendar.IsTimeIncluded(excluded))
                    after = trigger.GetFireTimeAfter(excluded);
                trigger.NextFireTimeUtc = after;
            }
            write.Add(trigger, scheduled!.Value, job.RequestsRecovery);
            due.Add(trigger);
            fired.Add(TriggerFiredResult.Fired(new TriggerFiredBundle
            {
                JobDetail = job.Clone(),
                Trigger = trigger,
                Recovering = false,
                FireTimeUtc = firedAt,
                ScheduledFireTimeUtc = scheduled,
                PreviousFireTimeUtc = previous,
                NextFireTimeUtc = trigger.NextFireTimeUtc,
            }));
        }

        if (due.Count > 0)
        {
            await using var fire = connection.Command(Fire, transaction);
            write.Bind(fire, _schedulerName, _instanceId, firedAt);
            await fire.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        Interlocked.Add(ref _fired, due.Count);
        return new Round(due, fired, othersDue);
    }

    private ValueTask<ICalendar?> CalendarAsync(string name) => CachedAsync(_calendars, name, _retrieveCalendar);

    private ValueTask<IJobDetail?> JobAsync(JobKey key) => CachedAsync(_jobs, key, _retrieveJob);

    /// <summary>What <paramref name="read"/> gives for <paramref name="key"/>, read again from Quartz after <see cref="JobCacheLifetime"/>.</summary>
    private async ValueTask<T?> CachedAsync<TKey, T>(ConcurrentDictionary<TKey, (T? Value, DateTimeOffset ReadAt)> cache, TKey key, Func<TKey, ValueTask<T?>> read)
        where TKey : notnull
        where T : class
    {
        var now = _time.GetUtcNow();
        if (cache.TryGetValue(key, out var cached) && now - cached.ReadAt < JobCacheLifetime)
            return cached.Value;
        var value = await read(key);
        cache[key] = (value, now);
        return value;
    }

    /// <summary>What one round fired (index-aligned, as Quartz's result wants) and whether others are due.</summary>
    public sealed record Round(List<IOperableTrigger> Due, List<TriggerFiredResult> Fired, bool OthersDue);

    /// <summary>One claimed trigger row, as Quartz's own read of it would build it.</summary>
    private sealed record Row(
        TriggerKey Key, JobKey JobKey, string? Description, long NextFireTime, long? PreviousFireTime, int Priority,
        long StartTime, long? EndTime, int MisfireInstruction, int RepeatCount, long RepeatIntervalMs, int TimesTriggered,
        string? CronExpression, string? TimeZoneId, string? CalendarName)
    {
        public static Row Read(DbDataReader r) => new(
            new TriggerKey(r.GetString(0), r.GetString(1)),
            new JobKey(r.GetString(2), r.GetString(3)),
            r.IsDBNull(4) ? null : r.GetString(4),
            r.GetInt64(5),
            Time(r, 6),
            r.GetInt32(7),
            r.GetInt64(8),
            Time(r, 9),
            r.GetInt32(10),
            r.IsDBNull(11) ? 0 : r.GetInt32(11),
            r.IsDBNull(12) ? 0 : r.GetInt64(12),
            r.IsDBNull(13) ? 0 : r.GetInt32(13),
            r.IsDBNull(15) ? null : r.GetString(15),
            r.IsDBNull(16) ? null : r.GetString(16),
            r.IsDBNull(17) ? null : r.GetString(17));

        /// <summary>A nullable time column as Quartz reads it (<c>StdAdoDelegate.GetDateTimeFromDbValue</c>): ticks of 0 or less are no time.</summary>
        private static long? Time(DbDataReader r, int ordinal) => r.IsDBNull(ordinal) || r.GetInt64(ordinal) <= 0 ? null : r.GetInt64(ordinal);

        /// <summary>The trigger Quartz's store builds from these columns (<c>StdAdoDelegate.BuildTrigger</c>).</summary>
        public TriggerBase ToTrigger(TimeProvider time) => CronExpression is null ? ToSimpleTrigger(time) : ToCronTrigger(time);

        /// <summary>The cron trigger Quartz's store builds from these columns and its cron-trigger row.</summary>
        private CronTriggerImpl ToCronTrigger(TimeProvider time)
        {
            var zone = TimeZoneId is { } id ? TimeZoneInfo.FindSystemTimeZoneById(id) : TimeZoneInfo.Utc;
            var trigger = (CronTriggerImpl)TriggerBuilder.Create(time)
                .WithDescription(Description)
                .WithPriority(Priority)
                .StartAt(Utc(StartTime))
                .EndAt(EndTime is { } end ? Utc(end) : null)
                .WithIdentity(Key)
                .WithCronSchedule(CronExpression!, c => c.InTimeZone(zone))
                .WithCalendarName(CalendarName)
                .ForJob(JobKey)
                .Build();
            trigger.MisfireInstructionCode = MisfireInstruction;
            trigger.NextFireTimeUtc = Utc(NextFireTime);
            trigger.PreviousFireTimeUtc = PreviousFireTime is { } previous ? Utc(previous) : null;
            trigger.RetryPolicy = RetryPolicy.None;
            trigger.RetryAttempt = 0;
            return trigger;
        }

        private SimpleTriggerImpl ToSimpleTrigger(TimeProvider time)
        {
            var trigger = (SimpleTriggerImpl)TriggerBuilder.Create(time)
                .WithDescription(Description)
                .WithPriority(Priority)
                .StartAt(Utc(StartTime))
                .EndAt(EndTime is { } end ? Utc(end) : null)
                .WithIdentity(Key)
                .WithSimpleSchedule(s => s.WithRepeatCount(RepeatCount).WithInterval(TimeSpan.FromMilliseconds(RepeatIntervalMs)))
                .WithCalendarName(CalendarName)
                .ForJob(JobKey)
                .Build();
            trigger.MisfireInstructionCode = MisfireInstruction;
            trigger.NextFireTimeUtc = Utc(NextFireTime);
            trigger.PreviousFireTimeUtc = PreviousFireTime is { } previous ? Utc(previous) : null;
            trigger.TimesTriggered = TimesTriggered;
            trigger.RetryPolicy = RetryPolicy.None;
            trigger.RetryAttempt = 0;
            return trigger;
        }

        private static DateTimeOffset Utc(long ticks) => new(ticks, TimeSpan.Zero);
    }

    /// <summary>The fire statement's arrays, one element per fired trigger.</summary>
    private sealed class FireColumns(int capacity)
    {
        private readonly List<string> _names = new(capacity);
        private readonly List<string> _groups = new(capacity);
        private readonly List<long?> _next = new(capacity);
        private readonly List<long?> _previous = new(capacity);
        private readonly List<string> _states = new(capacity);
        private readonly List<int> _times = new(capacity);
        private readonly List<string> _entries = new(capacity);
        private readonly List<long> _scheduled = new(capacity);
        private readonly List<int> _priorities = new(capacity);
        private readonly List<string> _jobNames = new(capacity);
        private readonly List<string> _jobGroups = new(capacity);
        private readonly List<bool> _recovery = new(capacity);

        public void Add(TriggerBase trigger, DateTimeOffset scheduled, bool requestsRecovery)
        {
            _names.Add(trigger.Key.Name);
            _groups.Add(trigger.Key.Group);
            _next.Add(trigger.NextFireTimeUtc?.UtcTicks);
            _previous.Add(trigger.PreviousFireTimeUtc?.UtcTicks);
            // What Quartz stores for a fired trigger of a job that allows concurrent runs.
            _states.Add(trigger.NextFireTimeUtc is null ? "COMPLETE" : "WAITING");
            _times.Add(trigger is SimpleTriggerImpl simple ? simple.TimesTriggered : 0); // a cron trigger has no count (its row: none to update)
            _entries.Add(trigger.FireInstanceId!);
            _scheduled.Add(scheduled.UtcTicks);
            _priorities.Add(trigger.Priority);
            _jobNames.Add(trigger.JobKey.Name);
            _jobGroups.Add(trigger.JobKey.Group);
            _recovery.Add(requestsRecovery);
        }

        public void Bind(DbCommand command, string schedulerName, string instanceId, DateTimeOffset firedAt) => command
            .With("@sched", schedulerName).With("@instance", instanceId).With("@firedTime", firedAt.UtcTicks)
            .With("@names", _names.ToArray()).With("@groups", _groups.ToArray())
            .With("@next", _next.ToArray()).With("@prev", _previous.ToArray()).With("@states", _states.ToArray())
            .With("@times", _times.ToArray()).With("@entries", _entries.ToArray()).With("@scheduled", _scheduled.ToArray())
            .With("@priorities", _priorities.ToArray()).With("@jobNames", _jobNames.ToArray())
            .With("@jobGroups", _jobGroups.ToArray()).With("@recovery", _recovery.ToArray());
    }
}

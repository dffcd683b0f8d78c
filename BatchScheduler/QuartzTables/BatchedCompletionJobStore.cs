using System.Collections.Concurrent;
using System.Data.Common;
using System.Threading.Channels;
using BatchScheduler.Storage;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.QuartzTables;

/// <summary>
/// Completes firings together on PostgreSQL. Quartz completes each firing in a transaction of its
/// own: a probe of the trigger, the deletion of a spent one-shot trigger with its rows, the deletion
/// of the fired row, and a commit; six of a firing's ten statements. This decorator of Quartz's own
/// store (Quartz's <see cref="DelegatingJobStore"/>) queues the common completions and writes each
/// round of them in one transaction: the same rows, deleted under the same conditions, by key sets.
/// </summary>
/// <remarks>
/// <para>
/// Only completions that Quartz itself would run without its lock and that touch nothing but their
/// own rows are batched: <see cref="SchedulerInstruction.NoInstruction"/>, or
/// <see cref="SchedulerInstruction.DeleteTrigger"/> of a spent trigger; a durable job that allows
/// concurrent runs; a simple trigger with the default overlap policy, no retry attempt, no delay
/// measured from completion; job data not persisted; the firing not cancelled. Everything else, a
/// trigger that others await as a continuation, and any round whose write fails go through Quartz's
/// own completion, with its retries.
/// </para>
/// <para>
/// The conditions are Quartz's: a spent trigger's row is deleted only while its stored next fire time
/// is empty (a trigger replaced under the same key while the firing ran, a retry for instance, stays),
/// with its simple-trigger row and the fired rows of the trigger; the fired row of every other firing
/// is deleted by its entry id.
/// </para>
/// <para>
/// A batched completion returns once it is queued, as the coordinator's <c>updates_end</c> does
/// (<see cref="Coordination.AttemptWriter"/>): the job's slot is free for the next firing while the
/// round is written, which was 1.2 times the drain rate (3,510–3,850/s to 4,350–4,570/s, 128 slots).
/// Nothing reads the fired row of a finished firing but cluster recovery, so the only difference a
/// queued completion makes is the moment a crash can still leave that row behind: the firing's
/// item then runs again once the node is declared dead, exactly as after a crash just before its
/// end was written, or during Quartz's own completion. On shutdown the queue is written (and any
/// completion handed to Quartz finished) before Quartz's store shuts down.
/// </para>
/// </remarks>
internal sealed partial class BatchedCompletionJobStore : DelegatingJobStore
{
    /// <summary>
    /// At most this many completions per transaction: as many as a node has slots at most (<c>Cluster:MaxConcurrency</c>).
    /// The writer is one loop, so its rounds must keep up with the node's executions: capped at 128, on
    /// 1,000 slots of 100 ms items (bench <c>io</c>), each round took ~200 ms on a loaded machine, the queue
    /// grew to 27,000 fired rows by the end of the drain and their deletes were the database's largest cost.
    /// </summary>
    public const int MaxRound = 1000;

    private const string SelectAwaited =
        """
        SELECT DISTINCT t.continues_trigger_name, t.continues_trigger_group
        FROM qrtz_triggers t
        WHERE t.sched_name = @sched AND t.trigger_state = 'AWAITING'
          AND (t.continues_trigger_name, t.continues_trigger_group) IN (SELECT u.n, u.g FROM unnest(@n::text[], @g::text[]) AS u(n, g))
        """;

    // Returns the keys of the triggers it deleted: the fired rows under exactly those keys go next (the
    // cascade Quartz's own schema has, which V007 dropped), from the keys as parameters. Joined to the
    // deleted rows in this statement instead, the planner took them for one row and compared every fired
    // row of the scheduler with every spent key: 4.7 ms a round against 2.5–3.1 ms now in all (2 nodes,
    // Cluster:SetBasedFiring=false). "Every key whose trigger is gone" would not do: a set-based round
    // deletes a one-shot trigger as it fires it, so a firing in progress under the same key (a retry
    // already due) has no trigger either.
    private const string DeleteSpent =
        """
        WITH spent AS (
          DELETE FROM qrtz_triggers t
          USING unnest(@n::text[], @g::text[]) AS u(n, g)
          WHERE t.sched_name = @sched AND t.trigger_name = u.n AND t.trigger_group = u.g
            AND t.next_fire_time IS NULL AND t.trigger_type = 'SIMPLE'
          RETURNING t.trigger_name, t.trigger_group
        ), simple AS (
          DELETE FROM qrtz_simple_triggers s USING spent
          WHERE s.sched_name = @sched AND s.trigger_name = spent.trigger_name AND s.trigger_group = spent.trigger_group
        )
        SELECT trigger_name, trigger_group FROM spent
        """;

    private const string DeleteFiredOfSpent =
        """
        DELETE FROM qrtz_fired_triggers f
        USING unnest(@sn::text[], @sg::text[]) AS u(n, g)
        WHERE f.sched_name = @sched AND f.trigger_name = u.n AND f.trigger_group = u.g;

        """;

    private const string DeleteFired = "DELETE FROM qrtz_fired_triggers WHERE sched_name = @sched AND entry_id = ANY(@ids)";

    private readonly ConcurrentDictionary<Pending, Task> _handedToQuartz = new(ReferenceEqualityComparer.Instance);
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConnectionFactory _connections;
    private readonly string _schedulerName;
    private readonly ILogger _logger;
    private readonly Lazy<Task> _writer;

    public BatchedCompletionJobStore(IJobStore inner, ConnectionFactory connections, string schedulerName, ILogger<BatchedCompletionJobStore> logger,
        Func<IJobStore, SetFiringRounds>? firingRounds = null)
        : base(inner)
    {
        _connections = connections;
        _schedulerName = schedulerName;
        _logger = logger;
        _writer = new Lazy<Task>(() => Task.Run(WriteRoundsAsync));
        FiringRounds = firingRounds?.Invoke(inner);
    }

    /// <summary>The set-based firing rounds, when they are on (<c>Cluster:SetBasedFiring</c>).</summary>
    public SetFiringRounds? FiringRounds { get; }

    private volatile bool _setRoundsOff;

    /// <summary>Completions written in rounds so far (for tests and logs).</summary>
    public long Batched => Interlocked.Read(ref _batched);

    private long _batched;

    /// <summary>
    /// Fires the plain work-item triggers that are due in one set-based round (<see cref="SetFiringRounds"/>),
    /// and leaves the rest to Quartz's own round: the other kinds of trigger due now, and everything
    /// due later, which Quartz waits for. Forwarded whole when set-based rounds are off:
    /// <see cref="DelegatingJobStore"/>'s default acquires without firing, which would turn off
    /// Quartz's lock-free rounds that fire what is due as they acquire it.
    /// </summary>
    public override async ValueTask<TriggerAcquisitionResult> AcquireNextTriggersAndFireDue(
        TriggerAcquisitionRequest request, CancellationToken cancellationToken = default)
    {
        // Execution limits are BatchScheduler's own (Limits.DataTypeLimits): the set-based claim leaves every
        // data type they limit or forbid to Quartz's round, which applies them.
        if (FiringRounds is null || _setRoundsOff || request.ServedExecutionGroups is not null
            || request.RefusedExecutionGroups is not null || request.MaxCount < 1)
            return await InnerJobStore.AcquireNextTriggersAndFireDue(request, cancellationToken);
        SetFiringRounds.Round round;
        try
        {
            round = await FiringRounds.FireDueAsync(request.MaxCount, cancellationToken);
        }
        catch (DbException e)
        {
            // As a failure of Quartz's own acquisition: the scheduler thread backs off and tries again.
            throw new JobPersistenceException($"Set-based firing round failed: {e.Message}", e);
        }
#pragma warning disable CA1031 // anything but a database error is a row this code does not understand: Quartz fires from now on
        catch (Exception e)
#pragma warning restore CA1031
        {
            // The round rolled back, so nothing was fired; rather than fail every round, let Quartz fire everything.
            _setRoundsOff = true;
            SetRoundsTurnedOff(_logger, e.GetType().Name, e.Message, e);
            return await InnerJobStore.AcquireNextTriggersAndFireDue(request, cancellationToken);
        }
        if (round.Due.Count == 0)
            return await InnerJobStore.AcquireNextTriggersAndFireDue(request, cancellationToken);
        if ((!round.OthersDue && !FiringRounds.LimitedMayStart(request.ExecutionLimits)) || round.Due.Count >= request.MaxCount)
            return new TriggerAcquisitionResult { Due = round.Due, Fired = round.Fired };
        var rest = await InnerJobStore.AcquireNextTriggersAndFireDue(request with { MaxCount = request.MaxCount - round.Due.Count }, cancellationToken);
        round.Due.AddRange(rest.Due);
        round.Fired.AddRange(rest.Fired);
        return new TriggerAcquisitionResult { Due = round.Due, Fired = round.Fired, Pending = rest.Pending };
    }

    public override ValueTask TriggeredJobComplete(
        IOperableTrigger trigger, IJobDetail jobDetail, SchedulerInstruction triggerInstructionCode, CancellationToken cancellationToken = default) =>
        FiringComplete(new TriggeredJobCompleteContext { Trigger = trigger, JobDetail = jobDetail, Instruction = triggerInstructionCode }, cancellationToken);

    public override ValueTask FiringComplete(TriggeredJobCompleteContext context, CancellationToken cancellationToken = default)
    {
        if (!Batchable(context))
            return base.FiringComplete(context, cancellationToken);
        var pending = new Pending(context);
        if (!_queue.Writer.TryWrite(pending))
            return base.FiringComplete(context, cancellationToken); // shutting down
        _ = _writer.Value;
        return ValueTask.CompletedTask;
    }

    public override async ValueTask Shutdown(CancellationToken cancellationToken = default)
    {
        _queue.Writer.TryComplete();
        if (_writer.IsValueCreated)
            await _writer.Value;
        await Task.WhenAll(_handedToQuartz.Values);
        await base.Shutdown(cancellationToken);
    }

    /// <summary>Whether Quartz would complete this firing without its lock, touching only its own rows.</summary>
    internal static bool Batchable(TriggeredJobCompleteContext context)
    {
        var trigger = context.Trigger;
        var job = context.JobDetail;
        var spent = trigger.NextFireTimeUtc is null;
        return (context.Instruction == SchedulerInstruction.NoInstruction || (context.Instruction == SchedulerInstruction.DeleteTrigger && spent))
            && context.Outcome != ExecutionOutcome.Cancelled
            && job.Durable && !job.ConcurrentExecutionDisallowed
            && !job.PersistJobDataAfterExecution
            && trigger is ISimpleTrigger { MeasureIntervalFromCompletion: false }
            && trigger.OverlapPolicy == OverlapPolicy.Default
            && trigger.RetryAttempt == 0
            && trigger.FireInstanceId is not null;
    }

    private async Task WriteRoundsAsync()
    {
        var round = new List<Pending>(MaxRound);
        while (await _queue.Reader.WaitToReadAsync())
        {
            round.Clear();
            while (round.Count < MaxRound && _queue.Reader.TryRead(out var pending))
                round.Add(pending);
            HashSet<TriggerKey> awaited;
            try
            {
                awaited = await WriteAsync(round);
            }
#pragma warning disable CA1031 // whatever went wrong, each completion still goes through Quartz: a job thread must never wait for good
            catch (Exception e)
#pragma warning restore CA1031
            {
                RoundFailed(_logger, round.Count, e.Message);
                foreach (var pending in round)
                    HandToQuartz(pending);
                continue;
            }
            foreach (var pending in round)
            {
                if (awaited.Contains(pending.Context.Trigger.Key))
                    HandToQuartz(pending);
            }
            Interlocked.Add(ref _batched, round.Count - awaited.Count);
        }
    }

    /// <summary>Writes the round in one transaction; returns the triggers others await, left to Quartz.</summary>
    private async Task<HashSet<TriggerKey>> WriteAsync(List<Pending> round)
    {
        await using var connection = await _connections.OpenAsync(CancellationToken.None);
        await using var transaction = await connection.BeginTransactionAsync();
        var awaited = new HashSet<TriggerKey>();
        await using (var select = connection.Command(SelectAwaited, transaction).With("@sched", _schedulerName)
            .With("@n", round.Select(p => p.Context.Trigger.Key.Name).ToArray())
            .With("@g", round.Select(p => p.Context.Trigger.Key.Group).ToArray()))
        await using (var reader = await select.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                awaited.Add(new TriggerKey(reader.GetString(0), reader.GetString(1)));
        }
        var mine = round.Where(p => !awaited.Contains(p.Context.Trigger.Key)).ToList();
        // A spent trigger that a set-based round fired was deleted by it: there is nothing of it to delete
        // now, and a trigger stored under its key since is another firing's.
        var spent = mine.Where(p => p.Context.Trigger.NextFireTimeUtc is null && FiringRounds?.FiredHere(p.Context.Trigger) != true)
            .Select(p => p.Context.Trigger.Key).ToList();
        var deleted = new List<TriggerKey>();
        if (spent.Count > 0)
        {
            await using var delete = connection.Command(DeleteSpent, transaction).With("@sched", _schedulerName)
                .With("@n", spent.Select(k => k.Name).ToArray()).With("@g", spent.Select(k => k.Group).ToArray());
            await using var reader = await delete.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                deleted.Add(new TriggerKey(reader.GetString(0), reader.GetString(1)));
        }
        if (mine.Count > 0)
        {
            // One round trip: the fired rows of the triggers just deleted, then this round's own fired rows.
            await using var delete = connection.Command(deleted.Count > 0 ? DeleteFiredOfSpent + DeleteFired : DeleteFired, transaction)
                .With("@sched", _schedulerName)
                .With("@ids", mine.Select(p => p.Context.Trigger.FireInstanceId!).ToArray());
            if (deleted.Count > 0)
                delete.With("@sn", deleted.Select(k => k.Name).ToArray()).With("@sg", deleted.Select(k => k.Group).ToArray());
            await delete.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
        return awaited;
    }

    /// <summary>Completes the firing through Quartz's own completion (with its retries), in the background; shutdown waits for it.</summary>
    private void HandToQuartz(Pending pending)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _handedToQuartz[pending] = done.Task;
        _ = CompleteThroughQuartzAsync(pending, done);
    }

    private async Task CompleteThroughQuartzAsync(Pending pending, TaskCompletionSource done)
    {
        try
        {
            await base.FiringComplete(pending.Context, CancellationToken.None);
        }
#pragma warning disable CA1031 // nobody awaits a queued completion: the failure is logged, and recovery settles the fired row
        catch (Exception e)
#pragma warning restore CA1031
        {
            CompletionFailed(_logger, pending.Context.Trigger.Key.ToString(), e.Message, e);
        }
        finally
        {
            _handedToQuartz.TryRemove(pending, out _);
            done.SetResult();
        }
    }

    private sealed record Pending(TriggeredJobCompleteContext Context);

    [LoggerMessage(1017, LogLevel.Error, "Set-based firing is turned off on this node after an unexpected {ExceptionType}: {Reason}; Quartz fires every trigger from now on")]
    private static partial void SetRoundsTurnedOff(ILogger logger, string exceptionType, string reason, Exception exception);

    [LoggerMessage(1018, LogLevel.Error, "Quartz could not complete the firing of {Trigger} ({Reason}); its fired row stays until cluster recovery settles it (the item may run once more)")]
    private static partial void CompletionFailed(ILogger logger, string trigger, string reason, Exception exception);

    [LoggerMessage(1013, LogLevel.Warning, "Could not complete {Count} firings in one round ({Reason}); completing them one by one through Quartz")]
    private static partial void RoundFailed(ILogger logger, int count, string reason);
}

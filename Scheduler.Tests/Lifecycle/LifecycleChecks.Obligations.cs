using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>The checks of what must start, and soon: after a run-now, after an upstream completion, after a kill.</summary>
internal sealed partial class LifecycleChecks
{
    /// <summary>
    /// Every run-now answered 202 was followed by a call that started after it was sent, within
    /// <see cref="RunNowWithin"/> of its answer or of the end of the call then open. Left aside:
    /// <c>down</c> (a dependent may rightly wait for its upstream), run-nows near a kill, and
    /// run-nows the driver re-tiered or deleted before they were due.
    /// </summary>
    public CheckResult RunNowFollowedByStart()
    {
        var violations = new List<string>();
        var delays = new List<TimeSpan>();
        int skipped = 0, pending = 0;
        foreach (var run in _allOperations.Where(o => o.Kind == OperationKind.RunNow && o.Status == 202 && !o.Item.StartsWith(ChaosScenario.Dependent + "/", StringComparison.Ordinal)))
        {
            var calls = CallsOf(run.Item);
            var busyUntil = BusyUntil(calls, run.Answered);
            var deadline = busyUntil + RunNowWithin + (run.Item.StartsWith(ChaosScenario.Upstream + "/", StringComparison.Ordinal) ? CreditWindow : TimeSpan.Zero);
            var first = calls.FirstOrDefault(c => c.Start > run.Sent);
            if (first is not null && first.Start <= deadline)
            {
                delays.Add(first.Start - run.Answered);
                continue;
            }
            if (NearKill(run.Answered) || Moves(run.Item).Any(o => o.Sent > run.Sent && o.Sent < deadline))
            {
                skipped++;
                continue;
            }
            if (deadline > _stoppedAt)
            {
                pending++;
                continue;
            }
            violations.Add($"{run.Item}: {run} (item busy until {busyUntil:HH:mm:ss.fff}) was not followed by a start by {deadline:HH:mm:ss.fff}; "
                           + $"next call: {Describe(first, run.Answered)}; {Row(run.Item)}");
        }
        return new CheckResult("every run-now accepted was followed by a start", delays.Count + violations.Count, violations, skipped, pending,
            $"answer to start: {Spread(delays)}");
    }

    /// <summary>
    /// Every successful <c>up</c> call was followed by a <c>down</c> call of the same entity within
    /// <see cref="DependentWithin"/> of its end, or of the end of the <c>down</c> call then open
    /// (completions in the registration's burst are not judged: they queue behind it). Left aside: completions near a kill or whose node was killed before writing them, and
    /// entities the driver moved (re-tiered, deleted) around them or whose <c>down</c> was excluded or deleted.
    /// </summary>
    public CheckResult DependentFollowsUpstream()
    {
        var violations = new List<string>();
        var delays = new List<TimeSpan>();
        int skipped = 0, pending = 0;
        foreach (var up in _calls.Where(c => c.Key.StartsWith(ChaosScenario.Upstream + "/", StringComparison.Ordinal)).SelectMany(c => c.Value)
                     .Where(c => c.Succeeded && c.End > _judgedFrom))
        {
            var completed = up.End!.Value;
            var down = $"{ChaosScenario.Dependent}/{up.EntityId}";
            var downCalls = CallsOf(down);
            var busyUntil = BusyUntil(downCalls, completed);
            var deadline = busyUntil + DependentWithin;
            var first = downCalls.FirstOrDefault(c => c.Start > completed);
            if (first is not null && first.Start <= deadline)
            {
                delays.Add(first.Start - completed);
                continue;
            }
            if (MayBeUnwritten(up) || NearKill(completed) || !IsRunnable(down, completed)
                || Moves(up.Item).Concat(Moves(down)).Any(o => o.Sent > up.Start - TimeSpan.FromSeconds(1) && o.Sent < deadline))
            {
                skipped++;
                continue;
            }
            if (deadline > _stoppedAt)
            {
                pending++;
                continue;
            }
            violations.Add($"{down}: {up.Item} completed at {completed:HH:mm:ss.fff} ({up}); {down} busy until {busyUntil:HH:mm:ss.fff}, "
                           + $"its next call: {Describe(first, completed)}; {Row(down)}");
        }
        return new CheckResult("every upstream completion was followed by its dependent's start", delays.Count + violations.Count, violations, skipped, pending,
            $"completion to start: {Spread(delays)}; {pending} cut off by the stop");
    }

    /// <summary>
    /// Every call a SIGKILL cut off is made again (the item recovered) within <see cref="RecoverWithin"/>
    /// of the node's failover or of its restart under the same NodeId, whichever is later, unless the
    /// driver moved the item meanwhile: neither dropped (e.g. judged expired by a stale due time) nor
    /// skipped as busy on the restarted node. Not for <c>down</c>: the cut-off attempt wrote its start,
    /// so its recovery waits for <c>up</c> to complete again, as any dependent's next run does.
    /// </summary>
    public CheckResult KilledCallsRunAgain()
    {
        var violations = new List<string>();
        var delays = new List<TimeSpan>();
        int skipped = 0, pending = 0;
        // A dependent's cut-off attempt counts as its start: it rightly waits for its upstream's next completion (checked above).
        foreach (var cut in _calls.Values.SelectMany(c => c).Where(c => CutByKill(c) && c.DataType != ChaosScenario.Dependent))
        {
            var released = ReleasedAt(cut);
            var deadline = released + RecoverWithin;
            var again = CallsOf(cut.Item).FirstOrDefault(c => c.Start > cut.Start && c.Number != cut.Number);
            if (again is not null && again.Start <= deadline)
            {
                delays.Add(again.Start - cut.End!.Value);
                continue;
            }
            if (Moves(cut.Item).Any(o => o.Sent > cut.Start && o.Sent < deadline))
            {
                skipped++;
                continue;
            }
            if (deadline > _stoppedAt)
            {
                pending++;
                continue;
            }
            violations.Add($"{cut.Item}: {cut} was cut off by a kill of {cut.Caller}; the item was free again at {released:HH:mm:ss.fff} "
                           + $"(failover or restart) but not called again by {deadline:HH:mm:ss.fff}; next call: {Describe(again, released)}; {Row(cut.Item)}");
        }
        return new CheckResult("every call cut off by a SIGKILL is made again after the failover", delays.Count + violations.Count, violations, skipped, pending,
            $"kill to new call: {Spread(delays)}");
    }
}

using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>The checks of one item's calls: never two at once, never one after its exclusion, never one under a row that reads completed, each fenced.</summary>
internal sealed partial class LifecycleChecks
{
    /// <summary>No two calls of one item in progress at once (across a delete and re-registration they are two items: reported, not counted).</summary>
    public CheckResult NoOverlap()
    {
        var violations = new List<string>();
        var acrossDelete = new List<TimeSpan>();
        foreach (var (item, calls) in _calls)
        {
            for (var i = 0; i < calls.Count; i++)
            {
                var a = calls[i];
                foreach (var b in calls.Skip(i + 1).TakeWhile(b => a.End is not { } end || b.Start < end))
                {
                    var overlap = (Min(a.End, b.End) ?? _stoppedAt) - b.Start;
                    if (Moves(item).Any(o => o.Kind == OperationKind.Delete && o.Status == 204 && o.Sent > a.Start && o.Answered < b.Start))
                        acrossDelete.Add(overlap);
                    else
                        violations.Add($"{item}: {a} and {b} overlapped for {overlap.TotalSeconds:0.000} s");
                }
            }
        }
        return new CheckResult("no two overlapping calls of one item", _calls.Count, violations,
            Note: $"{acrossDelete.Count} overlap(s) of a deleted item's call with its re-registered successor's (longest {Longest(acrossDelete)}) not counted");
    }

    /// <summary>No read through the API shows <c>completed</c> while a call of the item (this incarnation) was open for the whole read.</summary>
    public CheckResult NotCompletedWhileOpen()
    {
        var violations = new List<string>();
        var reads = _samples
            .Where(s => s.Read.State == "completed" && s.Call.Start < s.Read.Sent && (s.Call.End is not { } end || end > s.Read.Answered))
            .Where(s => !CutByKill(s.Call))
            .Where(s => !Moves(s.Call.Item).Any(o => o.Kind == OperationKind.Delete && o.Status == 204 && o.Sent > s.Call.Start && o.Answered < s.Read.Sent));
        foreach (var group in reads.GroupBy(s => s.Call))
        {
            var first = group.First().Read;
            violations.Add($"{group.Key.Item} read 'completed' {group.Count()} time(s), first via {first.Node} {first.Sent:HH:mm:ss.fff}–{first.Answered:HH:mm:ss.fff}, "
                           + $"while {group.Key} was open; {Row(group.Key.Item)}");
        }
        return new CheckResult("no item reads completed while a call of it is open", _samples.Count, violations);
    }

    /// <summary>
    /// No call of an item starts after the 200 of its move to <c>exclude</c> (and before the driver's
    /// next move of it). A call whose start was written before the exclusion landed is allowed: its
    /// fence (the start time in µs since the epoch, or just above the previous fence) tells when; a
    /// call without a fence is allowed <see cref="StartInFlight"/> from its start's write to the recorder.
    /// </summary>
    public CheckResult ExcludedNeverStarts()
    {
        var violations = new List<string>();
        var exclusions = _allOperations.Where(o => o.IsExclusion).ToList();
        foreach (var exclusion in exclusions)
        {
            var next = Moves(exclusion.Item).FirstOrDefault(o => o.Sent > exclusion.Answered);
            var until = next?.Sent ?? DateTimeOffset.MaxValue;
            foreach (var call in CallsOf(exclusion.Item).Where(c => c.Start > exclusion.Answered && c.Start < until && StartedAfter(c, exclusion.Answered)))
            {
                violations.Add($"{exclusion.Item}: {call} started {(call.Start - exclusion.Answered).TotalSeconds:0.0} s after {exclusion}"
                               + $" (next move: {next?.ToString() ?? "none"}); {Row(exclusion.Item)}");
            }
        }
        return new CheckResult("an item moved to exclude never starts again", exclusions.Count, violations);
    }

    /// <summary>Each call carries the <c>BatchScheduler-Fence</c> header, and an item's fences grow with its calls' starts.</summary>
    public CheckResult FencesGrow()
    {
        var violations = new List<string>();
        var without = _calls.Values.SelectMany(c => c).Where(c => c.Fence is null).ToList();
        if (without.Count > 0)
            violations.Add($"{without.Count} of {_calls.Values.Sum(c => c.Count)} calls carried no {HttpRecorder.FenceHeader} header, e.g. {without[0]}");
        foreach (var (item, calls) in _calls)
        {
            var fenced = calls.Where(c => c.Fence is not null).ToList();
            for (var i = 1; i < fenced.Count; i++)
            {
                if (fenced[i].Fence <= fenced[i - 1].Fence)
                    violations.Add($"{item}: fence did not grow from {fenced[i - 1]} to {fenced[i]}");
            }
        }
        return new CheckResult("every call is fenced, and fences grow per item", _calls.Count, violations);
    }
}

using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>The checks of the tables once the cluster has stopped: rows, triggers, nothing left running.</summary>
internal sealed partial class LifecycleChecks
{
    /// <summary>
    /// Once stopped, an item that should have a trigger (recurring, not excluded or dead-lettered;
    /// one-shot still pending) has exactly one (its trigger row or a fired row); any other has none;
    /// no trigger is left without its item, and no recovery trigger is left.
    /// </summary>
    public CheckResult TriggerPerItem()
    {
        var tables = _tables ?? throw new InvalidOperationException("the tables are read once the cluster has stopped");
        var violations = new List<string>();
        foreach (var row in tables.Items.Values)
        {
            var should = row.Tier != ChaosScenario.Exclude
                         && (ChaosScenario.IsRecurring(row.DataType, row.Tier)
                             ? row.State != "dead_lettered"
                             : row.State is "never_run" or "retrying" or "deferred" or "in_flight");
            var triggers = tables.Triggers.GetValueOrDefault(row.Key);
            var fired = tables.Fired.GetValueOrDefault(row.Key);
            // A finished one-shot item still owes a run to a run-now accepted after its last start (one
            // the driver sent in the last seconds, then moved the item, so the wait at the end did not
            // hold for it); one answered across that start may or may not have been the start's.
            var runNows = row.UpdatesStart is { } lastStart && !should && row.Tier != ChaosScenario.Exclude
                ? (_operations.GetValueOrDefault(row.Key) ?? []).Where(o => o.Kind == OperationKind.RunNow && o.Status == 202 && o.Answered > lastStart).ToList()
                : [];
            if (runNows.Any(o => o.Sent > row.UpdatesStart))
                should = true;
            else if (runNows.Count > 0 && triggers + fired <= 1)
                continue;
            if (triggers + fired != (should ? 1 : 0))
                violations.Add($"{row}: {triggers} trigger row(s) and {fired} fired row(s), expected {(should ? "exactly one" : "none")}");
        }
        foreach (var key in tables.Triggers.Keys.Concat(tables.Fired.Keys).Distinct())
        {
            if (key.StartsWith(TableSnapshot.RecoveryGroup + "/", StringComparison.Ordinal))
                violations.Add($"recovery trigger {key} left over");
            else if (ChaosScenario.DataTypes.Any(d => key.StartsWith(d + "/", StringComparison.Ordinal)) && !tables.Items.ContainsKey(key))
                violations.Add($"{key}: {tables.Triggers.GetValueOrDefault(key)} trigger row(s) and {tables.Fired.GetValueOrDefault(key)} fired row(s) without a work item");
        }
        return new CheckResult("every item has the trigger it should (exactly one), and no other", tables.Items.Count, violations);
    }

    /// <summary>
    /// Each row's <c>updates_start</c> is the begin of its latest call (before that call, after the
    /// one before it), its <c>updates_end</c> follows the end of a successful call and precedes the
    /// next call's start, no success its node lived to write is newer than it, and its state is
    /// what the latest call's outcome says.
    /// </summary>
    public CheckResult RowsAgreeWithRecorder()
    {
        var tables = _tables ?? throw new InvalidOperationException("the tables are read once the cluster has stopped");
        var violations = new List<string>();
        foreach (var row in tables.Items.Values.Where(r => ChaosScenario.DataTypes.Contains(r.DataType)))
        {
            var born = Incarnation(row.Key);
            var calls = CallsOf(row.Key).Where(c => c.Start > born).ToList();
            var (start, end) = (row.UpdatesStart, row.UpdatesEnd);
            if (calls.Count == 0)
            {
                if (end is not null || row.State == "completed")
                    violations.Add($"{row}: no call of this item since it was registered at {born:HH:mm:ss.fff}");
                continue;
            }
            var last = calls[^1];
            var before = calls.Count > 1 ? calls[^2] : null;
            if (start is not { } s)
                violations.Add($"{row}: no updates_start although {last}");
            else if (s > last.Start && row.State != "deferred")
                violations.Add($"{row}: updates_start is after the start of its last call {last}, yet no call followed");
            else if (before is not null && s < before.Start)
                violations.Add($"{row}: updates_start is older than its last two calls ({before}; {last}): a start was not written, or written over");

            var lived = calls.Where(c => Delivered(c) && !MayBeUnwritten(c)).ToList();
            if (end is not { } e)
            {
                if (lived.Count > 0)
                    violations.Add($"{row}: no updates_end although {lived[^1]} succeeded");
            }
            else
            {
                var ended = calls.Where(c => Delivered(c) && c.End < e).MaxBy(c => c.End);
                var next = ended is null ? null : calls.FirstOrDefault(c => c.Start > ended.Start && c != ended);
                if (ended is null)
                    violations.Add($"{row}: updates_end follows no successful call");
                else if (next is not null && e > next.Start)
                    violations.Add($"{row}: updates_end (of {ended}) was written after the next call had started: {next}");
                foreach (var newer in lived.Where(c => c.End > e))
                    violations.Add($"{row}: updates_end is older than the end of {newer}");
            }

            var outcome = row.State switch
            {
                "completed" when !Delivered(last) => $"its last call did not succeed: {last}",
                "completed" when end < last.End => $"updates_end is before its last call ended: {last}",
                "retrying" or "dead_lettered" when last.Plan.Status != 500 || last.Aborted => $"its last call did not fail: {last}",
                "deferred" when row.LastError?.StartsWith("HTTP 429", StringComparison.Ordinal) == true && (last.Plan.Status != 429 || last.Aborted) =>
                    $"its last call was not a 429: {last}",
                "never_run" => $"it has run: {last}",
                _ => null,
            };
            if (outcome is not null)
                violations.Add($"{row}: {outcome}");
        }
        return new CheckResult("updates_start/updates_end and state agree with the recorder", tables.Items.Count, violations);
    }

    /// <summary>Once stopped: no item left in flight, no call left open.</summary>
    public CheckResult Quiesced()
    {
        var tables = _tables ?? throw new InvalidOperationException("the tables are read once the cluster has stopped");
        var violations = tables.Items.Values.Where(r => r.State == "in_flight").Select(r => $"{r}: left in flight").ToList();
        violations.AddRange(_calls.Values.SelectMany(c => c).Where(c => c.IsOpen).Select(c => $"{c}: still open after the nodes stopped"));
        return new CheckResult("nothing left in flight or open once stopped", tables.Items.Count, violations);
    }
}

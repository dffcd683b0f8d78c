using System.Globalization;
using Quartz;

namespace BatchScheduler.Scheduling;

/// <summary>
/// What a one-off trigger (a retry, a deferral, a run-now) carries in its data map: which attempt
/// it is and when the item's current due cycle began, so the expiry window keeps counting from the
/// original due time. A regular trigger carries nothing: attempt 1, due at its scheduled fire time.
/// </summary>
internal sealed record FiringData(int Attempt, DateTimeOffset DueAt, FiringKind Kind)
{
    private const string AttemptKey = "attempt";
    private const string DueAtKey = "dueAt";
    private const string KindKey = "kind";

    public static FiringData From(IJobExecutionContext context, DateTimeOffset now)
    {
        var map = context.Trigger.JobDataMap;
        // Only one-offs carry BufferOne (WorkItemTriggers.OneOff). A regular trigger put back over a
        // one-off keeps that one-off's data: Quartz rewrites a trigger's job data only when the new map
        // is dirty, and an empty one never is. Read as the one-off's, its firings would count their
        // expiry window from that one-off's due time. A recovery firing runs under a trigger of
        // Quartz's own, with the original's data.
        if (!map.ContainsKey(KindKey) || (!context.Recovering && context.Trigger.OverlapPolicy != OverlapPolicy.BufferOne))
        {
            // A misfired one-shot trigger is fired late with a new scheduled time; its start time
            // still says when the item became due, which is where the expiry window starts. A
            // never-run item's first firing is placed early in due order; it is due a lead later.
            var scheduled = context.ScheduledFireTimeUtc ?? now;
            var dueAt = context.Trigger is ISimpleTrigger { RepeatCount: 0 }
                ? context.Trigger.StartTimeUtc
                : WorkItemTriggers.DueTime(scheduled, context.Trigger.StartTimeUtc);
            // Quartz's own (non-clustered) recovery at start begins the recovery trigger at the interrupted
            // firing's scheduled time, which for a never-run item's first firing is the early place in due
            // order (NeverRunLead before it was due). No real due time lies that far back unless the node
            // was down for half the lead (15 days); read it as such a firing, due a lead later.
            if (context.Recovering && dueAt < now - WorkItemTriggers.NeverRunLead / 2)
                dueAt += WorkItemTriggers.NeverRunLead;
            return new FiringData(1, dueAt, FiringKind.Regular);
        }
        return new FiringData(
            int.Parse(map.GetString(AttemptKey)!, CultureInfo.InvariantCulture),
            new DateTimeOffset(long.Parse(map.GetString(DueAtKey)!, CultureInfo.InvariantCulture), TimeSpan.Zero),
            Enum.Parse<FiringKind>(map.GetString(KindKey)!));
    }

    /// <summary>The kind of a one-off trigger (only one-offs carry <c>BufferOne</c>, see <see cref="From"/>); null for a regular trigger.</summary>
    public static FiringKind? OneOffKindOf(ITrigger trigger) =>
        trigger.OverlapPolicy == OverlapPolicy.BufferOne && trigger.JobDataMap.GetString(KindKey) is { } kind ? Enum.Parse<FiringKind>(kind) : null;

    public JobDataMap ToMap() => new()
    {
        [AttemptKey] = Attempt.ToString(CultureInfo.InvariantCulture),
        [DueAtKey] = DueAt.UtcTicks.ToString(CultureInfo.InvariantCulture),
        [KindKey] = Kind.ToString(),
    };
}

/// <summary>Why a trigger fires.</summary>
internal enum FiringKind
{
    /// <summary>The item's own schedule (its tier's cadence, or its single run).</summary>
    Regular,

    /// <summary>A retry after a failed attempt.</summary>
    Retry,

    /// <summary>Run again later without counting an attempt (credits, HTTP 429, shutdown).</summary>
    Deferred,

    /// <summary>Run now, asked for by hand.</summary>
    Manual,

    /// <summary>Run now because the item's upstream items (<c>DependsOn</c>) have completed.</summary>
    Upstream,
}

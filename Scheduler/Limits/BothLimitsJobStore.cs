using System.Globalization;
using BatchScheduler.Storage;
using Quartz;
using Quartz.Extensibility;
using Quartz.Impl;

namespace BatchScheduler.Limits;

/// <summary>
/// Applies a data type's per-node limit beside its cluster-wide one on a clustered store. Quartz holds
/// one limit per group (<see cref="DataTypeLimits"/> gives it the cluster-wide one), so before each
/// acquisition this decorator reads how many of the data type's firings the cluster and this node hold
/// (<c>qrtz_fired_triggers</c>) and hands Quartz, for this round, a cluster-wide allowance no larger
/// than what leaves this node within its own limit: the held count plus this node's free slots.
/// </summary>
/// <remarks>
/// Quartz re-counts the cluster's firings under its lock and takes no more than the allowance less
/// that count, so the cluster-wide limit stays exact. The per-node one can be passed only by as many
/// of the data type's firings as other nodes finished between this read and Quartz's (milliseconds):
/// their slots are then counted free for this node too. Installed only when some data type has both
/// limits, with the per-node one the smaller; an acquisition of nothing but other data types is not touched.
/// </remarks>
internal sealed class BothLimitsJobStore(IJobStore inner, ConnectionFactory connections, string schedulerName, string instanceId,
    IReadOnlyList<DataTypeLimit> both) : DelegatingJobStore(inner)
{
    public override async ValueTask<List<IOperableTrigger>> AcquireNextTriggers(TriggerAcquisitionRequest request, CancellationToken cancellationToken = default) =>
        await InnerJobStore.AcquireNextTriggers(await NarrowAsync(request, cancellationToken), cancellationToken);

    public override async ValueTask<TriggerAcquisitionResult> AcquireNextTriggersAndFireDue(TriggerAcquisitionRequest request, CancellationToken cancellationToken = default) =>
        await InnerJobStore.AcquireNextTriggersAndFireDue(await NarrowAsync(request, cancellationToken), cancellationToken);

    /// <summary>The request with each data type of <c>both</c> allowed what keeps this node within its own limit.</summary>
    internal async Task<TriggerAcquisitionRequest> NarrowAsync(TriggerAcquisitionRequest request, CancellationToken cancellationToken)
    {
        if (request.ExecutionLimits is not { } limits)
            return request;
        var held = await HeldAsync(cancellationToken);
        var narrowed = ExecutionLimitsBuilder.Create();
        if (limits.UsesTriggerGroupWhenUnset)
            narrowed.UseTriggerGroupWhenUnset();
        foreach (var limit in limits.Groups)
        {
            var group = limit.Group;
            if (group.IsDefault || group.IsOtherGroups || group.IsPrefix)
            {
                // Not configured by DataTypeLimits: a snapshot of its own groups is all it rebuilds.
                throw new InvalidOperationException($"Execution limit {group} is not one DataTypeLimits configures.");
            }
            if (both.FirstOrDefault(b => b.DataType == group.Name) is { } dataType && limit.MaxConcurrent is { } cluster)
            {
                var (all, mine) = held.GetValueOrDefault(dataType.DataType);
                var free = Math.Max(0, dataType.PerNode!.Value - mine);
                narrowed.ForGroup(dataType.DataType, (int)Math.Min(cluster, all + free), ExecutionLimitScope.Cluster);
            }
            else if (limit.MaxConcurrent is { } max)
                narrowed.ForGroup(group.Name!, max, limit.Scope);
            else
                narrowed.Unlimited(group.Name!);
        }
        return request with { ExecutionLimits = narrowed.Build() };
    }

    /// <summary>Per data type of <c>both</c>: the firings the cluster holds, and those this node holds.</summary>
    private async Task<Dictionary<string, (long All, long Mine)>> HeldAsync(CancellationToken cancellationToken)
    {
        var names = string.Join(", ", both.Select((_, i) => string.Create(CultureInfo.InvariantCulture, $"@g{i}")));
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT TRIGGER_GROUP, COUNT(*), SUM(CASE WHEN INSTANCE_NAME = @me THEN 1 ELSE 0 END)
            FROM QRTZ_FIRED_TRIGGERS WHERE SCHED_NAME = @sched AND TRIGGER_GROUP IN ({names}) GROUP BY TRIGGER_GROUP
            """).With("@sched", schedulerName).With("@me", instanceId);
        for (var i = 0; i < both.Count; i++)
            command.With(string.Create(CultureInfo.InvariantCulture, $"@g{i}"), both[i].DataType);
        var held = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            held[reader.GetString(0)] = (Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture));
        return held;
    }
}

using Quartz;

namespace BatchScheduler.Scheduling;

/// <summary>
/// How work items map onto Quartz: one durable job per data type, one trigger per item whose key
/// is the entity id in the data type's group. The key is derived from the pair, so registering the
/// same item twice can only ever address the same trigger.
/// </summary>
internal static class WorkItemKeys
{
    /// <summary>Group of the per-data-type durable jobs.</summary>
    public const string JobGroup = "batch-scheduler";

    public static JobKey Job(string dataType) => new(dataType, JobGroup);

    public static TriggerKey Trigger(string dataType, string entityId) => new(entityId, dataType);
}

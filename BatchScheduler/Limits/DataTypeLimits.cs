using BatchScheduler.Configuration;
using Quartz;

namespace BatchScheduler.Limits;

/// <summary>
/// The data types this node executes and the concurrency limits of each (<c>Cluster:DataTypes</c>,
/// <c>DataTypes:&lt;name&gt;:MaxConcurrency</c> and <c>MaxConcurrencyPerNode</c>), as Quartz's own
/// execution limits: the only place that turns those settings into what Quartz enforces.
/// </summary>
/// <remarks>
/// <para>
/// Quartz keys a limit by execution group and, with <see cref="ExecutionLimitsBuilder.UseTriggerGroupWhenUnset"/>,
/// by the trigger group of a trigger that carries none. A work item's trigger group is its data type
/// (<see cref="Scheduling.WorkItemKeys"/>) and carries no execution group, so each data type is one
/// limit group with no change to any trigger row; a recovery trigger is counted under the group of
/// the trigger it replays (Quartz reads it from the trigger's data), so a recovered firing counts too.
/// A cluster-wide limit is counted by Quartz from <c>qrtz_fired_triggers</c> under its
/// <c>TRIGGER_ACCESS</c> lock, so two nodes cannot both take the last slot; a per-node limit is what
/// this node runs, counted in memory. Items over a limit stay <c>WAITING</c>: nothing is attempted,
/// deferred or counted, and the stalest is the first Quartz reads when a slot frees.
/// </para>
/// <para>
/// A node pool is a node-scoped limit of 0 on every data type this node does not execute, not
/// Quartz's routing (<c>ServedExecutionGroups</c>): routing filters on the <c>EXECUTION_GROUP</c>
/// column only, which would need every work-item trigger to carry its data type there (the bulk
/// registration's rows, every trigger builder and a backfill of every stored trigger). A forbidden
/// group is refused by the same check whichever path a trigger takes to acquisition (Quartz's round,
/// a recovery trigger, a one-off run-now), and the set-based rounds on PostgreSQL keep both forbidden
/// and limited data types out of their claim in SQL (<see cref="QuartzTables.SetFiringRounds"/>).
/// </para>
/// <para>
/// Quartz holds one limit per group, of one scope. A data type with both limits gets the cluster-wide
/// one in Quartz; on a clustered store <see cref="BothLimitsCount"/> narrows it, under Quartz's lock, to what this node
/// may still take each round. On a single node (SQLite) the two are one number: the smaller.
/// </para>
/// </remarks>
internal sealed class DataTypeLimits
{
    public DataTypeLimits(DataTypesOptions dataTypes, ClusterOptions cluster, bool clustered)
    {
        var listed = cluster.DataTypes.Count == 0 ? null : new HashSet<string>(cluster.DataTypes, StringComparer.Ordinal);
        Clustered = clustered;
        foreach (var (name, options) in dataTypes.Items.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            var limit = new DataTypeLimit(name, options.MaxConcurrency, options.MaxConcurrencyPerNode);
            All.Add(limit);
            if (listed is not null && !listed.Contains(name))
                NotServed.Add(name);
            else
            {
                Served.Add(name);
                if (limit.Limited)
                    Limited.Add(limit);
            }
        }
    }

    /// <summary>Whether the store is shared by a cluster (cluster-wide and per-node limits differ).</summary>
    public bool Clustered { get; }

    /// <summary>Every configured data type's limits.</summary>
    public List<DataTypeLimit> All { get; } = [];

    /// <summary>The data types this node executes, by name.</summary>
    public List<string> Served { get; } = [];

    /// <summary>The configured data types this node does not execute.</summary>
    public List<string> NotServed { get; } = [];

    /// <summary>The data types this node executes that have a limit.</summary>
    public List<DataTypeLimit> Limited { get; } = [];

    /// <summary>
    /// Data types whose per-node limit is below their cluster-wide one on a clustered store: Quartz is
    /// given the cluster-wide one and <see cref="BothLimitsCount"/> narrows it to this node's.
    /// </summary>
    public IEnumerable<DataTypeLimit> BothLimits => Clustered ? Limited.Where(l => l.PerNode < l.Cluster) : [];

    /// <summary>Whether Quartz must be given any limit at all: without one, its acquisition stays exactly as it was.</summary>
    public bool Any => Limited.Count > 0 || NotServed.Count > 0;

    /// <summary>The data types whose triggers the set-based rounds must leave to Quartz's round, which applies the limits.</summary>
    public IEnumerable<string> KeptFromSetRounds => NotServed.Concat(Limited.Select(l => l.DataType));

    /// <summary>Configures Quartz's execution limits (nothing when there is none).</summary>
    public void Apply(ExecutionLimitsBuilder limits)
    {
        if (!Any)
            return;
        limits.UseTriggerGroupWhenUnset();
        foreach (var dataType in NotServed)
            limits.ForGroup(dataType, 0, ExecutionLimitScope.Node);
        foreach (var limit in Limited)
        {
            if (Clustered && limit.Cluster is { } cluster)
                limits.ForGroup(limit.DataType, cluster, ExecutionLimitScope.Cluster);
            else
                limits.ForGroup(limit.DataType, Math.Min(limit.PerNode ?? int.MaxValue, limit.Cluster ?? int.MaxValue), ExecutionLimitScope.Node);
        }
    }
}

/// <summary>One data type's limits: across the cluster and per node (null: none).</summary>
internal sealed record DataTypeLimit(string DataType, int? Cluster, int? PerNode)
{
    /// <summary>Whether either limit is set.</summary>
    public bool Limited => Cluster is not null || PerNode is not null;
}

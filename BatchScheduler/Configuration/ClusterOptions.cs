namespace BatchScheduler.Configuration;

/// <summary>What this node is within the cluster (section <c>Cluster</c>).</summary>
internal sealed class ClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>Unique node id; <c>auto</c> derives one from host name, process id and a random suffix.</summary>
    public string NodeId { get; set; } = "auto";

    /// <summary><c>worker</c> executes work items and serves the API; <c>api</c> only serves.</summary>
    public string Role { get; set; } = NodeRoles.Worker;

    /// <summary>
    /// Work items this node runs at once (Quartz worker threads, which wait asynchronously). 128 by
    /// default: with set-based firing a round fires as many triggers as there are free slots, and
    /// firings spend most of their time awaiting batched writes, so more slots mean larger rounds
    /// (no-op drain on 2 cores: about 1,800/s at 32, 2,500/s at 64, 3,500/s at 128).
    /// </summary>
    public int MaxConcurrency { get; set; } = 128;

    /// <summary>How often the node checks in to the cluster (PostgreSQL / SQL Server only).</summary>
    public TimeSpan CheckinInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>On SIGTERM, how long running items may take to finish before they are handed back.</summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle node waits before it looks for due triggers again (Quartz's idle wait).</summary>
    public TimeSpan IdleWaitTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a worker re-arms items that lost their trigger and frees triggers Quartz left stuck.</summary>
    public TimeSpan RepairInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// PostgreSQL: fire due work-item triggers in set-based rounds (three statements per round) rather
    /// than through Quartz's per-trigger statements. The rows written are Quartz's own either way.
    /// </summary>
    public bool SetBasedFiring { get; set; } = true;

    /// <summary>Quartz scheduler name: nodes with the same name and database form one cluster.</summary>
    public string SchedulerName { get; set; } = "BatchScheduler";

    /// <summary>
    /// The data types this node executes (a node pool); empty: all configured data types. Items of the
    /// others never start here: they wait for a node that lists them (issue 22).
    /// </summary>
    public List<string> DataTypes { get; set; } = [];
}

/// <summary>The values <see cref="ClusterOptions.Role"/> accepts.</summary>
internal static class NodeRoles
{
    public const string Worker = "worker";
    public const string Api = "api";
}

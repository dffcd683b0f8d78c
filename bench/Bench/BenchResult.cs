using System.Text.Json;

namespace BatchScheduler.Bench;

/// <summary>One measured figure; printed as one JSON line on stdout, which bench/run.sh tabulates.</summary>
/// <param name="System">"batchscheduler", "plain-quartz" or "hangfire" (or "postgres" for pgbench).</param>
/// <param name="Variant">e.g. "default", "tuned", "1 node", "2 nodes".</param>
/// <param name="Metric">e.g. "register", "drain", "statements/execution".</param>
public sealed record BenchResult(string System, string Variant, string Metric, double Value, string Unit, string Notes = "")
{
    public string ToJson() => JsonSerializer.Serialize(this, JsonSerializerOptions.Web);
}

/// <summary>What every scenario is given.</summary>
/// <param name="AdminConnectionString">A PostgreSQL superuser connection string (database postgres); scenarios create and drop their own database.</param>
/// <param name="Items">How many items/jobs the scenario uses.</param>
/// <param name="Nodes">How many nodes (schedulers/servers) drain, where that applies.</param>
/// <param name="Rate">Items per second fed in, for the due-to-start scenario.</param>
/// <param name="Minutes">How long the seed scenario's steady window lasts.</param>
public sealed record BenchOptions(string AdminConnectionString, int Items, int Nodes, int Rate = 0, int Posters = 1, int Limited = 0, int LimitedMs = 0, int Minutes = 10);

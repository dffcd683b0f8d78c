using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// What the randomized lifecycle test runs: four data types, all on the <c>http</c> executor
/// calling the <see cref="HttpRecorder"/> (each node under its own URL, so the recorder knows who
/// called), and a few hundred items. <c>rec</c> is recurring with a short retry and an expiry
/// (nothing in the test runs 30 s late, so none should expire), <c>one</c> runs once, <c>down</c>
/// depends on <c>up</c> (same entity ids), and <c>up</c> spends a small vendor budget, so its items
/// complete in bursts.
/// </summary>
internal static class ChaosScenario
{
    public const string Recurring = "rec";
    public const string OneShot = "one";
    public const string Upstream = "up";
    public const string Dependent = "down";
    public const string Exclude = "exclude";

    public static readonly string[] DataTypes = [Recurring, OneShot, Upstream, Dependent];

    /// <summary>The tiers (not <c>exclude</c>) a data type's items are registered and re-tiered in.</summary>
    public static string[] TiersOf(string dataType) => dataType switch
    {
        Recurring => ["fast", "slow"],
        OneShot => ["a", "b"],
        Upstream => ["fast"],
        _ => ["slow"],
    };

    /// <summary>A recurring item's trigger stays after a run; a one-shot item's goes.</summary>
    public static bool IsRecurring(string dataType, string? tier) => dataType != OneShot && tier != Exclude;

    /// <summary>
    /// The items: <c>rec</c> r-000…, <c>one</c> o-000…, and <c>up</c> and <c>down</c> sharing e-000…;
    /// every other one is volatile (re-tiered, deleted and registered again), the rest only run.
    /// </summary>
    public static IReadOnlyList<DriverItem> Items()
    {
        static IEnumerable<DriverItem> Of(string dataType, string prefix, int count) =>
            Enumerable.Range(0, count).Select(i => new DriverItem(dataType, $"{prefix}-{i:000}", IsVolatile: i % 2 == 1, TiersOf(dataType)[0]));
        return [.. Of(Recurring, "r", 120), .. Of(OneShot, "o", 80), .. Of(Upstream, "e", 60), .. Of(Dependent, "e", 60)];
    }

    /// <summary>One node's settings: its own id, its own URL at the recorder, its own PostgreSQL application name.</summary>
    public static Dictionary<string, string?> Settings(string connectionString, HttpRecorder recorder, string node)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Postgres",
            ["Storage:ConnectionString"] = $"{connectionString};Application Name={node}",
            ["Cluster:NodeId"] = node,
            ["Cluster:CheckinInterval"] = "00:00:02",
            ["Cluster:RepairInterval"] = "00:00:05",
            ["Cluster:MaxConcurrency"] = "16",
            ["Cluster:ShutdownGracePeriod"] = "00:00:15",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = Environment.GetEnvironmentVariable(LifecycleChaosTests.LogsVariable) is { Length: > 0 } ? "Information" : "Warning",
            ["Vendors:upvendor:Credits"] = "25",
            ["Vendors:upvendor:Window"] = "00:00:05",
            [$"DataTypes:{Recurring}:Cadence:fast"] = "00:00:45",
            [$"DataTypes:{Recurring}:Cadence:slow"] = "00:01:30",
            [$"DataTypes:{Recurring}:Retry:MaxRetryAttempts"] = "2",
            [$"DataTypes:{Recurring}:Expiry"] = "00:00:30",
            [$"DataTypes:{OneShot}:Retry:MaxRetryAttempts"] = "3",
            [$"DataTypes:{Upstream}:Cadence:fast"] = "00:00:30",
            [$"DataTypes:{Upstream}:Vendor"] = "upvendor",
            [$"DataTypes:{Upstream}:Retry:MaxRetryAttempts"] = "10",
            [$"DataTypes:{Dependent}:Cadence:slow"] = "00:05:00",
            [$"DataTypes:{Dependent}:DependsOn:0"] = Upstream,
            [$"DataTypes:{Dependent}:Retry:MaxRetryAttempts"] = "50",
        };
        foreach (var dataType in DataTypes)
        {
            settings[$"DataTypes:{dataType}:Executor"] = "http";
            settings[$"DataTypes:{dataType}:Http:Url"] = recorder.UrlFor(node, dataType);
            settings[$"DataTypes:{dataType}:Http:Timeout"] = "00:00:10";
            settings[$"DataTypes:{dataType}:Retry:Delay"] = "00:00:01";
            settings[$"DataTypes:{dataType}:Retry:BackoffType"] = "Constant";
            settings[$"DataTypes:{dataType}:Retry:UseJitter"] = "false";
        }
        return settings;
    }

    /// <summary>
    /// The outside service, per call: succeed quickly, fail (500), defer (429, Retry-After 1 s) or run
    /// long (2–4 s) and succeed. Decided by the seed, the item and the call's index for that item, so a
    /// seed gives every item the same sequence of answers whatever the interleaving.
    /// </summary>
    public static Func<RecordedCall, CallPlan> Calls(int seed) => call =>
    {
        var random = new Random(StableHash($"{seed}|{call.Item}|{call.Index}"));
        var roll = random.NextDouble();
        var quick = TimeSpan.FromMilliseconds(random.Next(30, 250));
        var failure = call.DataType == Dependent ? 0.10 : 0.20;
        return roll switch
        {
            _ when roll < failure => CallPlan.Fail(quick),
            _ when roll < failure + 0.10 => CallPlan.Defer(quick, TimeSpan.FromSeconds(1)),
            _ when roll < failure + 0.25 => CallPlan.Succeed(TimeSpan.FromMilliseconds(random.Next(2000, 4000))),
            _ => CallPlan.Succeed(quick),
        };
    };

    /// <summary>FNV-1a: the same on every run (string.GetHashCode is randomized per process).</summary>
    public static int StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
            hash = (hash ^ c) * 16777619u;
        return (int)hash;
    }
}

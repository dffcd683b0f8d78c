using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// The randomized test's properties, judged from outside: the recorder's calls (when each started
/// and ended, which node made it, how it ended), the test's API calls (when each was sent and
/// answered), the reads sampled while a call was open, the kills, and the tables once the cluster
/// has stopped. Every comparison of a node's time with the recorder's is causal (same machine
/// clock): a node writes <c>updates_start</c> before it sends the call the recorder receives, and
/// writes <c>updates_end</c> after the answer the recorder sent. The checks are grouped by what
/// they judge: one item's calls (<c>LifecycleChecks.Exclusivity.cs</c>), what a request or an event
/// obliges the cluster to start (<c>.Obligations.cs</c>), and the tables once stopped (<c>.Tables.cs</c>).
/// </summary>
internal sealed partial class LifecycleChecks
{
    /// <summary>A run-now must lead to a start this soon after it was answered, or after the call then open ended (a busy firing retries 5 s later).</summary>
    public static readonly TimeSpan RunNowWithin = TimeSpan.FromSeconds(15);

    /// <summary>An upstream completion must lead to its dependent's start this soon (not <c>ItemDependencies.Recheck</c>'s hour).</summary>
    public static readonly TimeSpan DependentWithin = TimeSpan.FromSeconds(10);

    /// <summary><c>up</c> may wait for its vendor's next window (<c>Vendors:upvendor:Window</c>).</summary>
    private static readonly TimeSpan CreditWindow = TimeSpan.FromSeconds(5);

    /// <summary>Firings a killed node had taken come back only after its failover (≈ 9.5 s at a 2 s check-in).</summary>
    private static readonly TimeSpan BeforeKill = TimeSpan.FromSeconds(12);

    /// <summary>
    /// A killed node's failover: ≈ 9.5 s at a 2 s check-in. An item in flight on it stays its until
    /// then, or until it is back under its NodeId, whichever is later (<see cref="ReleasedAt"/>).
    /// </summary>
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(2);

    /// <summary>A call its node's SIGKILL cut off must be made again this soon after the item was released (<see cref="ReleasedAt"/>).</summary>
    private static readonly TimeSpan RecoverWithin = TimeSpan.FromSeconds(8);

    /// <summary>A success its node was killed this soon after may not have had its end written.</summary>
    private static readonly TimeSpan EndWriteTime = TimeSpan.FromSeconds(3);

    /// <summary>
    /// A call whose start was written before an exclusion landed may reach the recorder this much after
    /// the PUT's answer; used when the call carries no fence telling when its start was written.
    /// </summary>
    private static readonly TimeSpan StartInFlight = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<string, List<RecordedCall>> _calls;
    private readonly Dictionary<string, List<ApiOperation>> _operations;
    private readonly IReadOnlyList<ApiOperation> _allOperations;
    private readonly IReadOnlyList<OpenCallSample> _samples;
    private readonly IReadOnlyList<NodeEvent> _kills;
    private readonly IReadOnlyList<NodeEvent> _restarts;
    private readonly TableSnapshot? _tables;
    private readonly DateTimeOffset _stoppedAt;
    private readonly DateTimeOffset _judgedFrom;

    /// <param name="judgedFrom">When the registration's burst had run: what the cluster owes for events before is not judged.</param>
    /// <param name="stoppedAt">When the cluster was told to stop: an obligation due later was cut off, not broken.</param>
    public LifecycleChecks(
        IReadOnlyList<RecordedCall> calls, IReadOnlyList<ApiOperation> operations, IReadOnlyList<OpenCallSample> samples,
        IReadOnlyList<NodeEvent> events, TableSnapshot? tables, DateTimeOffset judgedFrom, DateTimeOffset stoppedAt)
    {
        _judgedFrom = judgedFrom;
        _calls = calls.Where(c => c.DataType is not null).GroupBy(c => c.Item)
            .ToDictionary(g => g.Key, g => g.OrderBy(c => c.Start).ThenBy(c => c.Number).ToList(), StringComparer.Ordinal);
        _operations = operations.GroupBy(o => o.Item)
            .ToDictionary(g => g.Key, g => g.OrderBy(o => o.Sent).ToList(), StringComparer.Ordinal);
        _allOperations = operations;
        _samples = samples;
        _kills = events.Where(e => e.What == NodeEvent.Killed).ToList();
        _restarts = events.Where(e => e.What == NodeEvent.Restarted).ToList();
        _tables = tables;
        _stoppedAt = stoppedAt;
    }

    public IReadOnlyList<CheckResult> All() =>
    [
        NoOverlap(), RunNowFollowedByStart(), NotCompletedWhileOpen(), DependentFollowsUpstream(), KilledCallsRunAgain(), TriggerPerItem(),
        ExcludedNeverStarts(), RowsAgreeWithRecorder(), FencesGrow(), Quiesced(),
    ];

    private List<RecordedCall> CallsOf(string item) => _calls.GetValueOrDefault(item) ?? [];

    /// <summary>The driver's PUTs and DELETEs of the item, in the order sent.</summary>
    private IEnumerable<ApiOperation> Moves(string item) => (_operations.GetValueOrDefault(item) ?? []).Where(o => o.MovesItem);

    /// <summary>When the item's current row was registered: the first PUT after its last delete (the start when never deleted).</summary>
    private DateTimeOffset Incarnation(string item)
    {
        var moves = Moves(item).ToList();
        var deleted = moves.LastOrDefault(o => o.Kind == OperationKind.Delete && o.Status == 204);
        return deleted is null ? DateTimeOffset.MinValue : moves.FirstOrDefault(o => o.Kind == OperationKind.Put && o.Sent > deleted.Answered)?.Sent ?? DateTimeOffset.MaxValue;
    }

    /// <summary>Whether the item existed outside tier exclude at <paramref name="at"/>, after the driver's answered moves.</summary>
    private bool IsRunnable(string item, DateTimeOffset at)
    {
        var last = Moves(item).LastOrDefault(o => o.Answered < at && o.Status is 200 or 204);
        return last is null || (last.Kind == OperationKind.Put && last.Tier != ChaosScenario.Exclude);
    }

    /// <summary>
    /// Until when the item is busy, seen at <paramref name="at"/>: the end of its call then open, or,
    /// for a call its killed node left, the node's failover after the kill.
    /// </summary>
    private DateTimeOffset BusyUntil(IEnumerable<RecordedCall> calls, DateTimeOffset at) =>
        calls.Select(c => (c.Start, End: CutByKill(c) ? ReleasedAt(c) : c.End))
            .Where(c => c.Start < at && (c.End is not { } end || end > at))
            .Select(c => c.End ?? _stoppedAt).Append(at).Max(); // still open: as if it ended now, so what waits on it is pending

    /// <summary>
    /// The call was open when its node was killed: the recorder saw it aborted, or answered it into
    /// the void (the abort not noticed yet). Either way its node never learnt how it ended.
    /// </summary>
    private bool CutByKill(RecordedCall call) => KillThatCut(call) is not null;

    /// <summary>
    /// The kill of its node that cut the call off: the call was still open when the node was gone, or it
    /// was answered but the attempt's end was not written (its item was left in flight under its fence).
    /// Without a record of what was left in flight, any call open at the signal counts.
    /// </summary>
    private NodeEvent? KillThatCut(RecordedCall call) =>
        _kills.FirstOrDefault(k => k.Node == call.Caller && call.Start < (k.Dead ?? k.At) && (call.End is not { } end || end >= (k.Dead ?? k.At)
            || (k.InFlight is null ? end >= k.At : call.Fence is { } fence && k.InFlight.Contains(NodeEvent.InFlightKey(call.Item, fence)))));

    /// <summary>
    /// When the item of a call its node's kill cut off is free to run again: the node's failover,
    /// or, if the node is back under its NodeId later than that, its restart (it takes back or
    /// releases its predecessor's items at once).
    /// </summary>
    private DateTimeOffset ReleasedAt(RecordedCall cut)
    {
        var kill = KillThatCut(cut)!;
        var restart = _restarts.FirstOrDefault(r => r.Node == kill.Node && r.At > kill.At)?.At;
        return restart is { } back && back > kill.At + Failover ? back : kill.At + Failover;
    }

    /// <summary>The call's node received its 200.</summary>
    private bool Delivered(RecordedCall call) => call.Succeeded && !CutByKill(call);

    /// <summary>Whether the call's start was written after <paramref name="at"/>.</summary>
    private static bool StartedAfter(RecordedCall call, DateTimeOffset at)
    {
        if (call.Fence is { } fence && fence > at.AddDays(-1).ToUnixTimeMilliseconds() * 1000 && fence < call.Start.AddDays(1).ToUnixTimeMilliseconds() * 1000)
            return DateTimeOffset.UnixEpoch.AddTicks(fence * 10) > at; // a start time: the fence is at least the start's µs
        return call.Start > at + StartInFlight;
    }

    private bool NearKill(DateTimeOffset at) => _kills.Any(k => at > k.At - BeforeKill && at < k.At + AfterKill);

    /// <summary>A success whose end its node may not have written: cut off by a kill, or just before one.</summary>
    private bool MayBeUnwritten(RecordedCall call) =>
        CutByKill(call) || _kills.Any(k => k.Node == call.Caller && call.End <= k.At && k.At - call.End < EndWriteTime);

    private string Row(string item) =>
        _tables is null ? "" : _tables.Items.TryGetValue(item, out var row) ? $"now {row}" : "now no row";

    private static string Describe(RecordedCall? call, DateTimeOffset after) =>
        call is null ? "none" : $"{call} (+{(call.Start - after).TotalSeconds:0.0} s)";

    private static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;

    private static string Longest(List<TimeSpan> spans) => spans.Count == 0 ? "-" : $"{spans.Max().TotalSeconds:0.000} s";

    private static string Spread(List<TimeSpan> delays)
    {
        if (delays.Count == 0)
            return "none";
        var sorted = delays.Order().ToList();
        return $"median {sorted[sorted.Count / 2].TotalSeconds:0.00} s, 95th {sorted[(int)(sorted.Count * 0.95)].TotalSeconds:0.00} s, max {sorted[^1].TotalSeconds:0.00} s";
    }
}

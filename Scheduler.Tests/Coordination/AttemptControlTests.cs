using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// Timeouts and cancels of running attempts, on real nodes and stores: a cancel sent to one node stops the
/// attempt on the node that runs it; a timeout fails the attempt with <c>timed out after &lt;t&gt;</c> and follows the
/// retry policy; an executor that ignores its token is reported and keeps its slot until it returns.
/// </summary>
public sealed class AttemptControlTests(ITestOutputHelper output)
{
    private const string Slow = "slow";

    /// <summary>
    /// Records every call (its context, and whether and when its token was cancelled). Waits on its token until
    /// cancelled, except: calls after the first <see cref="HoldFirst"/> return at once, and with <see cref="IgnoreToken"/>
    /// it waits for <see cref="Release"/> whatever its token says.
    /// </summary>
    private sealed class Holder : IWorkItemExecutor
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<WorkItemContext> Calls { get; } = new();

        public ConcurrentQueue<(WorkItemContext Context, long At)> Cancels { get; } = new();

        public TaskCompletionSource<WorkItemContext> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool HoldFirst { get; init; }

        public bool IgnoreToken { get; init; }

        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Calls.Enqueue(context);
            Started.TrySetResult(context);
            using var registration = cancellationToken.Register(() => Cancels.Enqueue((context, Stopwatch.GetTimestamp())));
            if (HoldFirst && Calls.Count > 1)
                return;
            if (IgnoreToken)
                await _release.Task;
            else
                await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public void Release() => _release.TrySetResult();
    }

    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);

        public IReadOnlyList<LogEvent> WithId(int id) =>
            Events.Where(e => e.Properties.TryGetValue("EventId", out var v) && v is StructureValue s
                && s.Properties.Any(p => p.Name == "Id" && p.Value.ToString() == id.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }

    private static Dictionary<string, string?> Settings(string? timeout = null, int retries = 0) => new()
    {
        // Longer than the cancel's target, so a cancel that waited for the fence check (once per check-in) would show.
        ["Cluster:CheckinInterval"] = "00:00:05",
        [$"DataTypes:{Slow}:Executor"] = "holder",
        [$"DataTypes:{Slow}:Cadence:once"] = "",
        [$"DataTypes:{Slow}:Timeout"] = timeout,
        [$"DataTypes:{Slow}:Retry:MaxRetryAttempts"] = retries.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"DataTypes:{Slow}:Retry:Delay"] = "00:00:00",
    };

    private static Task<TestNode> StartNodeAsync(TestStore store, Holder holder, Dictionary<string, string?> settings, ILogEventSink? sink = null) =>
        TestNode.StartAsync(store.Provider, store.ConnectionString, settings, s =>
        {
            s.AddExecutor("holder", holder);
            if (sink is not null)
                s.AddSingleton(sink);
        });

    private static string NodeId(TestNode node) => node.App.Services.GetRequiredService<NodeIdentity>().Id;

    private static async Task<(HttpStatusCode Status, JsonElement Body)> CancelAsync(TestNode node, string entityId, object? body = null, string dataType = Slow)
    {
        var path = $"/api/work-items/{dataType}/{entityId}/cancel";
        using var response = body is null ? await node.Http.PostAsync(path, null) : await node.Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task<List<JsonElement>> FailuresAsync(TestNode node, string entityId)
    {
        var page = await node.Http.GetFromJsonAsync<JsonElement>($"/api/failures?dataType={Slow}&entityId={entityId}");
        return page.GetProperty("items").EnumerateArray().Reverse().ToList(); // oldest first
    }

    /// <summary>
    /// The request goes to the node that does not run the item: its token is cancelled there within a second or two
    /// (the check-in interval is 5 s), the outcome says who cancelled it and why, the attempt is not counted and the
    /// item is paused; resumed, it runs again as the same attempt.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task Cancel_ItemRunningOnTheOtherNode_TokenCancelledThere_ItemPausedAttemptNotCounted()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var holder = new Holder { HoldFirst = true };
        await using var first = await StartNodeAsync(store, holder, Settings());
        await using var second = await StartNodeAsync(store, holder, Settings());
        await first.PutAsync(Slow, "c1", new { });
        var running = await holder.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var (runner, asked) = running.NodeId == NodeId(first) ? (first, second) : (second, first);
        Assert.NotEqual(running.NodeId, NodeId(asked));

        var sent = Stopwatch.GetTimestamp();
        var (status, body) = await CancelAsync(asked, "c1", new { reason = "stuck vendor call" });

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(WorkItemStates.InFlight, body.GetProperty("state").GetString());
        await Eventually.TrueAsync(() => Task.FromResult(!holder.Cancels.IsEmpty), TimeSpan.FromSeconds(10), "the running attempt's token should be cancelled");
        var latency = Stopwatch.GetElapsedTime(sent, holder.Cancels.Single().At);
        output.WriteLine($"cancel sent to {NodeId(asked)}, attempt on {running.NodeId}: token cancelled {latency.TotalMilliseconds:0} ms later");
        Assert.True(latency < TimeSpan.FromSeconds(2.5), $"cancelled {latency.TotalSeconds:0.00} s after the request (target: 1-2 s)");
        var item = await runner.WaitForStateAsync(Slow, "c1", WorkItemStates.Paused);
        Assert.Equal(0, item.Attempt);
        Assert.Equal("Cancelled by loopback: stuck vendor call", item.LastError);
        Assert.Equal("loopback", item.Paused?.By);
        Assert.Equal("Cancelled by loopback: stuck vendor call", item.Paused?.Reason);
        var failure = Assert.Single(await FailuresAsync(asked, "c1"));
        Assert.Equal("Cancelled", failure.GetProperty("exceptionType").GetString());
        Assert.Equal(running.NodeId, failure.GetProperty("nodeId").GetString());
        Assert.Equal(1, failure.GetProperty("attempt").GetInt32());
        Assert.True(failure.GetProperty("done").GetBoolean());
        Assert.Single(holder.Calls); // paused: nothing runs it again

        using (var resume = await asked.Http.PostAsync($"/api/work-items/{Slow}/c1/resume", null))
            resume.EnsureSuccessStatusCode();

        var done = await runner.WaitForStateAsync(Slow, "c1", WorkItemStates.Completed);
        Assert.Equal([1, 1], holder.Calls.Select(c => c.Attempt));
        Assert.Equal(1, done.Attempt);
        Assert.Equal(HttpStatusCode.Conflict, (await CancelAsync(asked, "c1")).Status);
    }

    /// <summary>
    /// On one SQLite node: a cancel without a body (no reason) stops the attempt at once; 404 for an unknown item or
    /// data type, 409 once nothing runs, 400 for a reason over the limit.
    /// </summary>
    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task Cancel_OneSqliteNode_StopsTheAttempt_AndAnswers404And409And400()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        var holder = new Holder { HoldFirst = true };
        await using var node = await StartNodeAsync(store, holder, Settings());
        await node.PutAsync(Slow, "c2", new { });
        await holder.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.BadRequest, (await CancelAsync(node, "c2", new { reason = new string('x', 251) })).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await CancelAsync(node, "nothing-here")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await CancelAsync(node, "c2", dataType: "no-such-type")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await CancelAsync(node, "c2")).Status);

        var item = await node.WaitForStateAsync(Slow, "c2", WorkItemStates.Paused);
        Assert.Equal(0, item.Attempt);
        Assert.Equal("Cancelled by loopback", item.Paused?.Reason);
        Assert.Single(holder.Cancels);
        var (status, problem) = await CancelAsync(node, "c2");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("is running", problem.GetProperty("detail").GetString());
    }

    /// <summary>
    /// Two PostgreSQL nodes, a timeout of 1 s and one retry: each attempt's token is cancelled, each fails with
    /// <c>timed out after 00:00:01</c> (its failure row naming the node that ran it), and the second dead-letters.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task Timeout_TwoNodes_EachAttemptTimesOut_RetriedThenDeadLettered()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var holder = new Holder();
        await using var first = await StartNodeAsync(store, holder, Settings(timeout: "00:00:01", retries: 1));
        await using var second = await StartNodeAsync(store, holder, Settings(timeout: "00:00:01", retries: 1));

        await first.PutAsync(Slow, "t1", new { });

        var item = await second.WaitForStateAsync(Slow, "t1", WorkItemStates.DeadLettered);
        Assert.Equal("Dead-lettered after 2 attempts: timed out after 00:00:01", item.LastError);
        Assert.Equal([1, 2], holder.Calls.Select(c => c.Attempt));
        Assert.Equal(2, holder.Cancels.Count);
        var failures = await FailuresAsync(first, "t1");
        Assert.Equal(["timed out after 00:00:01", "timed out after 00:00:01"], failures.Select(f => f.GetProperty("message").GetString()));
        Assert.All(failures, f => Assert.Equal("System.TimeoutException", f.GetProperty("exceptionType").GetString()));
        Assert.Equal(holder.Calls.Select(c => c.NodeId), failures.Select(f => f.GetProperty("nodeId").GetString()));
    }

    /// <summary>On one SQLite node a timeout fails the attempt with the reason, and the retry policy retries it.</summary>
    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task Timeout_OneSqliteNode_FailsWithTheReason_AndRetries()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        var holder = new Holder { HoldFirst = true };
        await using var node = await StartNodeAsync(store, holder, Settings(timeout: "00:00:00.500", retries: 2));

        await node.PutAsync(Slow, "t2", new { });

        var item = await node.WaitForStateAsync(Slow, "t2", WorkItemStates.Completed);
        Assert.Equal([1, 2], holder.Calls.Select(c => c.Attempt));
        var failure = Assert.Single(await FailuresAsync(node, "t2"));
        Assert.Equal("timed out after 00:00:00.5", failure.GetProperty("message").GetString());
        Assert.Equal(2, item.Attempt);
    }

    /// <summary>
    /// An executor that ignores its token: at the timeout plus the grace period its attempt is dead-lettered with the
    /// timeout's reason, a warning names it (data type, entity, attempt, node) and the overdue gauge counts it, while
    /// it keeps its slot (the node lists it as running); when it finally returns (successfully), nothing of it is
    /// written, and the slot and the gauge are free again.
    /// </summary>
    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task Timeout_ExecutorIgnoresItsToken_ReportedAndKeepsItsSlotUntilItReturns()
    {
        await using var store = await TestStore.CreateAsync(StorageProvider.Postgres);
        var holder = new Holder { IgnoreToken = true };
        var sink = new CapturingSink();
        await using var node = await StartNodeAsync(store, holder, Settings(timeout: "00:00:01"), sink);
        await node.PutAsync(Slow, "z1", new { });

        var started = Stopwatch.GetTimestamp();
        var item = await node.WaitForStateAsync(Slow, "z1", WorkItemStates.DeadLettered);
        output.WriteLine($"dead-lettered {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s after the registration (timeout 1 s + grace 5 s)");

        Assert.Equal("Dead-lettered after 1 attempts: timed out after 00:00:01", item.LastError);
        Assert.Single(holder.Cancels);
        var warning = Assert.Single(sink.WithId(2700));
        Assert.Equal("\"slow\"", warning.Properties["DataType"].ToString());
        Assert.Equal("\"z1\"", warning.Properties["EntityId"].ToString());
        Assert.Equal("1", warning.Properties["Attempt"].ToString());
        Assert.Equal($"\"{NodeId(node)}\"", warning.Properties["NodeId"].ToString());
        Assert.Contains("batchscheduler_attempts_overdue{data_type=\"slow\"} 1", await node.Http.GetStringAsync("/metrics"));
        Assert.Equal(1, await RunningOnAsync(node));
        // What the dashboard's item page shows in its failures: the row says the executor ignored its cancellation, and where.
        var reported = Assert.Single(await FailuresAsync(node, "z1"));
        Assert.Contains($"The executor ignored its cancellation: still running on {NodeId(node)}", reported.GetProperty("detail").GetString(), StringComparison.Ordinal);

        holder.Release();

        await Eventually.TrueAsync(async () => await RunningOnAsync(node) == 0, TimeSpan.FromSeconds(10), "the slot should be free once the executor returned");
        await Eventually.TrueAsync(() => Task.FromResult(sink.WithId(2701).Count == 1), TimeSpan.FromSeconds(10), "its late return should be logged");
        Assert.Contains("batchscheduler_attempts_overdue{data_type=\"slow\"} 0", await node.Http.GetStringAsync("/metrics"));
        Assert.Equal(WorkItemStates.DeadLettered, (await node.ItemAsync(Slow, "z1"))!.State);
        Assert.Single(await FailuresAsync(node, "z1"));
    }

    private static async Task<long> RunningOnAsync(TestNode node)
    {
        var nodes = await node.Http.GetFromJsonAsync<JsonElement>("/api/nodes");
        return nodes.EnumerateArray().Single(n => n.GetProperty("nodeId").GetString() == NodeId(node)).GetProperty("running").GetInt64();
    }
}

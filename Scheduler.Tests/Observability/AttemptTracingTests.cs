using System.Diagnostics;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Observability;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Coordination;
using BatchScheduler.Tests.Executors.BuiltIn;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace BatchScheduler.Tests.Observability;

/// <summary>
/// The engine's spans as an app's OpenTelemetry sees them (<c>AddSource("BatchScheduler")</c> and an
/// in-memory exporter): one per attempt, with the item, the attempt, the node and the outcome; the
/// <c>http</c> executor's request carries the attempt's trace.
/// </summary>
public abstract class AttemptTracingTests(StorageProvider provider)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static async Task<TestNode> StartAsync(TestStore store, string nodeId, ExportedSpans spans, Dictionary<string, string?> settings)
    {
        settings["Cluster:NodeId"] = nodeId;
        return await TestNode.StartAsync(store.Provider, store.ConnectionString, settings, s =>
        {
            s.AddExecutor("outcomes", new OutcomeExecutor());
            s.AddOpenTelemetry().WithTracing(t => t.AddSource("BatchScheduler").AddInMemoryExporter(spans));
        });
    }

    private static string NewNodeId() => $"trace-{Guid.NewGuid():N}"[..20];

    private static async Task<IReadOnlyList<Activity>> SpansAsync(ExportedSpans spans, string nodeId, int count)
    {
        if (!await Eventually.WithinAsync(() => Task.FromResult(spans.OfNode(nodeId).Count >= count), Wait))
            throw new TimeoutException($"{count} attempt spans expected, {spans.OfNode(nodeId).Count} exported: "
                + string.Join(", ", spans.OfNode(nodeId).Select(s => $"{s.GetTagItem(AttemptTracing.EntityIdTag)}#{s.GetTagItem(AttemptTracing.AttemptTag)}")));
        return spans.OfNode(nodeId);
    }

    [Fact]
    public async Task Attempts_ThatSucceedFailRetryDeadLetterAndDefer_EachExportOneSpanWithItsOutcome()
    {
        await using var store = await TestStore.CreateAsync(provider);
        var spans = new ExportedSpans();
        var nodeId = NewNodeId();
        await using var node = await StartAsync(store, nodeId, spans, new()
        {
            ["DataTypes:work:Executor"] = "outcomes",
            ["DataTypes:work:Retry:MaxRetryAttempts"] = "1",
            ["DataTypes:work:Retry:Delay"] = "00:00:00.050",
            ["DataTypes:work:Retry:BackoffType"] = "Constant",
            ["DataTypes:work:Retry:UseJitter"] = "false",
        });

        foreach (var id in new[] { "ok-1", "flaky-1", "bad-1", "later-1" })
            await node.PutAsync("work", id, new { });

        (string EntityId, int Attempt, string Outcome)[] expected =
        [
            ("ok-1", 1, "succeeded"),
            ("flaky-1", 1, "failed"), ("flaky-1", 2, "succeeded"), // failed, retried, succeeded
            ("bad-1", 1, "failed"), ("bad-1", 2, "dead_lettered"),  // the one retry failed too
            ("later-1", 1, "deferred"),                             // the executor deferred it by an hour
        ];
        var exported = await SpansAsync(spans, nodeId, expected.Length);

        Assert.Equal(expected.Order(), exported.Select(s => (
            (string)s.GetTagItem(AttemptTracing.EntityIdTag)!, (int)s.GetTagItem(AttemptTracing.AttemptTag)!, (string)s.GetTagItem(AttemptTracing.OutcomeTag)!)).Order());
        Assert.All(exported, s =>
        {
            Assert.Equal("BatchScheduler", s.Source.Name);
            Assert.Equal("attempt work", s.DisplayName);
            Assert.Equal(ActivityKind.Internal, s.Kind);
            Assert.Equal("work", s.GetTagItem(AttemptTracing.DataTypeTag));
            Assert.True(s.Duration > TimeSpan.Zero);
        });
        foreach (var span in exported)
        {
            var (entityId, outcome) = ((string)span.GetTagItem(AttemptTracing.EntityIdTag)!, (string)span.GetTagItem(AttemptTracing.OutcomeTag)!);
            if (outcome is "failed" or "dead_lettered")
            {
                Assert.Equal(ActivityStatusCode.Error, span.Status);
                Assert.Equal($"InvalidOperationException: Scripted failure of {entityId} (attempt {span.GetTagItem(AttemptTracing.AttemptTag)})", span.StatusDescription);
            }
            else
            {
                Assert.Equal(ActivityStatusCode.Unset, span.Status);
            }
        }
        // Each attempt is its own trace: a retry is a later firing, not a child of the failed attempt.
        Assert.Equal(expected.Length, exported.Select(s => s.TraceId).Distinct().Count());
        Assert.Equal(WorkItemStates.DeadLettered, (await node.ItemAsync("work", "bad-1"))!.State);
    }

    [Fact]
    public async Task HttpExecutor_InsideTheAttemptSpan_SendsItsTraceparent()
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var spans = new ExportedSpans();
        var nodeId = NewNodeId();
        await using var node = await StartAsync(store, nodeId, spans, new()
        {
            ["DataTypes:hook:Executor"] = "http",
            ["DataTypes:hook:Http:Url"] = server.BaseUrl + "hook/{entityId}",
        });

        await node.PutAsync("hook", "h-1", new { });

        var span = Assert.Single(await SpansAsync(spans, nodeId, 1));
        Assert.Equal("succeeded", span.GetTagItem(AttemptTracing.OutcomeTag));
        var request = Assert.Single(server.Received);
        Assert.Equal("/hook/h-1", request.RawUrl);
        Assert.NotNull(request.Traceparent);
        // W3C: version-traceid-parentid-flags; the parent is the HTTP call's own span, a child of the attempt's.
        var parts = request.Traceparent.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal(span.TraceId.ToHexString(), parts[1]);
        Assert.Equal(1, Convert.ToInt32(parts[3], 16) & 1); // sampled, as the attempt is (0x02 is W3C's "random trace id")
    }

    /// <summary>Fails <c>bad-*</c> always and <c>flaky-*</c> on its first attempt; defers <c>later-*</c> by an hour; succeeds otherwise.</summary>
    private sealed class OutcomeExecutor : IWorkItemExecutor
    {
        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            var id = context.EntityId;
            if (id.StartsWith("bad-", StringComparison.Ordinal) || (id.StartsWith("flaky-", StringComparison.Ordinal) && context.Attempt == 1))
                throw new InvalidOperationException($"Scripted failure of {id} (attempt {context.Attempt})");
            if (id.StartsWith("later-", StringComparison.Ordinal))
                throw new WorkItemDeferredException(TimeSpan.FromHours(1), "Scripted: try again in an hour");
            return ValueTask.CompletedTask;
        }
    }
}

[Trait("Provider", "Sqlite")]
public sealed class SqliteAttemptTracingTests() : AttemptTracingTests(StorageProvider.Sqlite);

[Trait("Provider", "Postgres")]
public sealed class PostgresAttemptTracingTests() : AttemptTracingTests(StorageProvider.Postgres);

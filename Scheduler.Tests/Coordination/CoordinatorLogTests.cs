using System.Collections.Concurrent;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace BatchScheduler.Tests.Coordination;

[Trait("Provider", "Sqlite")]
public sealed class CoordinatorLogTests
{
    private sealed class CapturingSink : ILogEventSink
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);
    }

    [Fact]
    public async Task Execute_FailThenSucceed_EveryCoordinatorLineCarriesItemProperties()
    {
        var sink = new CapturingSink();
        var executor = new RecordingExecutor
        {
            Throw = c => c.Attempt == 1 ? new TimeoutException("slow vendor") : null,
        };
        await using var store = await TestStore.CreateAsync(StorageProvider.Sqlite);
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, store.ConnectionString, new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Default"] = "Debug",
            ["DataTypes:logged:Executor"] = "recording",
            ["DataTypes:logged:Retry:Delay"] = "00:00:00.050",
            ["DataTypes:logged:Retry:UseJitter"] = "false",
        }, s =>
        {
            s.AddExecutor("recording", executor);
            s.AddSingleton<ILogEventSink>(sink);
        });

        await node.PutAsync("logged", "AAPL", new { });
        await node.WaitForStateAsync("logged", "AAPL", WorkItemStates.Completed);

        List<LogEvent> CoordinatorLines() => sink.Events
            .Where(e => e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().Contains("CoordinatorJob"))
            .ToList();
        await Eventually.TrueAsync(
            () => Task.FromResult(CoordinatorLines().Any(e => e.MessageTemplate.Text.StartsWith("Completed", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10), "the coordinator logs the completion");
        var coordinatorLines = CoordinatorLines();
        Assert.Contains(coordinatorLines, e => e.MessageTemplate.Text.StartsWith("Failed", StringComparison.Ordinal));
        Assert.All(coordinatorLines, e =>
        {
            Assert.Equal("\"logged\"", e.Properties["DataType"].ToString());
            Assert.Equal("\"AAPL\"", e.Properties["EntityId"].ToString());
            Assert.True(e.Properties.ContainsKey("Attempt"), $"no Attempt on: {e.MessageTemplate.Text}");
            Assert.True(e.Properties.ContainsKey("NodeId"), $"no NodeId on: {e.MessageTemplate.Text}");
        });
        Assert.Contains(coordinatorLines, e => e.Properties["Attempt"].ToString() == "2");
    }
}

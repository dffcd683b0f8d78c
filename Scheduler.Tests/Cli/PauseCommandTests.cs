using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Cli;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Tests.Cli;

/// <summary><c>Scheduler pause|resume</c> against a real node: what it changes, what it prints, its exit codes.</summary>
[Trait("Provider", "Sqlite")]
public sealed class PauseCommandTests : IAsyncLifetime
{
    private readonly SqliteTestDatabase _database = new();
    private TestNode _node = null!;
    private readonly StringWriter _output = new() { NewLine = "\n" };
    private readonly StringWriter _error = new() { NewLine = "\n" };

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:daily-prices:Executor"] = "noop",
            ["DataTypes:daily-prices:Cadence:first"] = "01:00:00",
        });
        await _node.PutAsync("daily-prices", "AAPL", new { });
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _database.Dispose();
    }

    private Task<int> RunAsync(params string[] args) =>
        SchedulerCommands.Create().Parse([.. args, "--url", _node.Http.BaseAddress!.ToString()])
            .InvokeAsync(new InvocationConfiguration { Output = _output, Error = _error });

    private async Task<JsonElement> DataTypeAsync() =>
        (await _node.Http.GetFromJsonAsync<JsonElement>("/api/data-types")).EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == "daily-prices");

    [Fact]
    public async Task PauseThenResume_DataType_ChangesItOnTheNode_AndSaysSo()
    {
        Assert.Equal(0, await RunAsync("pause", "daily-prices", "--reason", "vendor outage"));
        Assert.Equal("data type daily-prices paused by loopback: vendor outage\n", _output.ToString());
        Assert.Equal("vendor outage", (await DataTypeAsync()).GetProperty("pausedReason").GetString());

        Assert.Equal(0, await RunAsync("resume", "daily-prices"));
        Assert.False((await DataTypeAsync()).GetProperty("paused").GetBoolean());
        Assert.EndsWith("data type daily-prices resumed: what fell due runs once, stalest first.\n", _output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PauseThenResume_OneItem()
    {
        Assert.Equal(0, await RunAsync("pause", "daily-prices", "AAPL", "--reason", "bad symbol"));
        Assert.StartsWith("work item daily-prices/AAPL paused by loopback: bad symbol", _output.ToString(), StringComparison.Ordinal);
        Assert.Equal(WorkItemStates.Paused, (await _node.ItemAsync("daily-prices", "AAPL"))!.State);

        Assert.Equal(0, await RunAsync("resume", "daily-prices", "AAPL"));
        Assert.NotEqual(WorkItemStates.Paused, (await _node.ItemAsync("daily-prices", "AAPL"))!.State);
    }

    [Fact]
    public async Task Pause_WithoutReason_IsAUsageError()
    {
        Assert.Equal(2, await RunAsync("pause", "daily-prices"));
        Assert.Contains("--reason", _error.ToString(), StringComparison.Ordinal);
        Assert.False((await DataTypeAsync()).GetProperty("paused").GetBoolean());
    }

    [Fact]
    public async Task Pause_UnknownDataType_Exits2_WithTheNodesReason()
    {
        Assert.Equal(2, await RunAsync("pause", "nope", "--reason", "x"));
        Assert.Contains("Unknown data type 'nope'", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pause_NodeUnreachable_Exits3()
    {
        var code = await SchedulerCommands.Create().Parse(["pause", "daily-prices", "--reason", "x", "--url", "http://127.0.0.1:1"])
            .InvokeAsync(new InvocationConfiguration { Output = _output, Error = _error });
        Assert.Equal(3, code);
        Assert.Contains("could not be reached", _error.ToString(), StringComparison.Ordinal);
    }
}

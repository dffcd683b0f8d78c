using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Storage;

/// <summary>A SQLite file has one node: a second one, of any role, refuses to start and says who holds the file.</summary>
[Trait("Provider", "Sqlite")]
public sealed class SqliteOwnerLockTests
{
    private static Dictionary<string, string?> Settings(string role = "worker") => new()
    {
        ["Cluster:Role"] = role,
        ["DataTypes:x:Executor"] = "noop",
    };

    [Theory]
    [InlineData("worker")]
    [InlineData("api")]
    public async Task Start_SecondNodeOnTheSameFile_IsRefusedNamingTheFileAndItsHolder_UntilTheHolderStops(string secondRole)
    {
        using var database = new SqliteTestDatabase();
        var first = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings());
        var firstId = first.App.Services.GetRequiredService<NodeIdentity>().Id;

        var refused = await Assert.ThrowsAsync<SqliteStoreInUseException>(
            () => TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings(secondRole)));

        Assert.Equal(database.FilePath, refused.DatabasePath);
        Assert.Contains(database.FilePath, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"node '{firstId}'", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"host {Environment.MachineName}", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"pid {Environment.ProcessId}", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(refused.Owner);
        Assert.Equal(firstId, refused.Owner.NodeId);
        Assert.True(TimeProvider.System.GetUtcNow() - refused.Owner.Since < TimeSpan.FromMinutes(1));

        await first.DisposeAsync();
        await using var second = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, Settings(secondRole));
        await second.PutAsync("x", "after", new { });
        Assert.NotNull(await second.ItemAsync("x", "after"));
    }

    [Fact]
    public async Task Start_SecondProcessOnTheFile_ExitsNonZeroWithOneLine_AndOnceTheHolderIsKilledANodeStarts()
    {
        using var database = new SqliteTestDatabase();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = database.ConnectionString,
            ["Cluster:NodeId"] = "auto", // what an operator runs: on SQLite both call themselves by the host name
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["DataTypes:slow:Executor"] = "demo",
            ["DataTypes:slow:Demo:Duration"] = "00:01:00",
        };
        await using var holder = await NodeProcess.StartAsync(settings);
        (await holder.Http.PutAsync("/api/work-items/slow/running",
            new StringContent("{}", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();

        var (exitCode, output) = await NodeProcess.RunUntilExitAsync(settings);

        Assert.Equal(1, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines, l => l.Contains(database.FilePath, StringComparison.Ordinal));
        Assert.StartsWith("The node cannot start: the SQLite database", line, StringComparison.Ordinal);
        Assert.Contains($"node '{Environment.MachineName.ToLowerInvariant()}'", line, StringComparison.Ordinal);
        Assert.Contains($"pid {holder.ProcessId}", line, StringComparison.Ordinal);
        Assert.Contains("since ", line, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)); // no stack trace

        await holder.KillAsync(); // SIGKILL: no shutdown code runs, the OS drops the lock
        await using var next = await NodeProcess.StartAsync(settings);
        Assert.True((await next.Http.GetAsync("/api/work-items/slow/running")).IsSuccessStatusCode);
    }
}

using System.Net;
using System.Net.Sockets;
using BatchScheduler.Cli;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BatchScheduler.Tests.Cli;

/// <summary>The <c>migrate</c> verb as a user runs it: settings from appsettings.json plus <c>--Key=value</c> overrides.</summary>
[Trait("Provider", "Sqlite")]
public sealed class NodeRunnerTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose()
    {
        // SqliteTestDatabase.Dispose throws when its directory was never created, as it is not here
        // when a test refuses bad settings before the store is touched.
        if (Directory.Exists(_database.DirectoryPath))
            _database.Dispose();
    }

    private static Task<int> RunAsync(params string[] args) => SchedulerCommands.Create().Parse(args).InvokeAsync();

    private async Task<List<string>> SqliteTablesAsync()
    {
        await using var connection = new SqliteConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new SqliteCommand("SELECT lower(name) FROM sqlite_master WHERE type = 'table'", connection);
        var tables = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            tables.Add(reader.GetString(0));
        return tables;
    }

    [Fact]
    public async Task Migrate_FreshSqliteFile_CreatesTheSchemaAndExits0()
    {
        Directory.CreateDirectory(_database.DirectoryPath);

        var exit = await RunAsync("migrate", $"--Storage:ConnectionString={_database.ConnectionString}");

        Assert.Equal(0, exit);
        var tables = await SqliteTablesAsync();
        Assert.Contains("work_items", tables);
        Assert.Contains("failures", tables);
        Assert.Contains("qrtz_triggers", tables);
    }

    [Fact]
    public async Task Migrate_RunTwice_SecondRunIsANoOpAndExits0()
    {
        Directory.CreateDirectory(_database.DirectoryPath);
        Assert.Equal(0, await RunAsync("migrate", $"--Storage:ConnectionString={_database.ConnectionString}"));

        var exit = await RunAsync("migrate", $"--Storage:ConnectionString={_database.ConnectionString}");

        Assert.Equal(0, exit);
        Assert.Contains("work_items", await SqliteTablesAsync());
    }

    [Fact]
    public async Task Migrate_InvalidClusterRole_Exits2WithoutTouchingTheStore()
    {
        var exit = await RunAsync("migrate", $"--Storage:ConnectionString={_database.ConnectionString}", "--Cluster:Role=boss");

        Assert.Equal(NodeRunner.BadSettings, exit);
        Assert.False(File.Exists(_database.FilePath));
    }

    [Fact]
    public async Task Migrate_MalformedPostgresConnectionString_Exits2()
    {
        var exit = await RunAsync("migrate", "--Storage:Provider=Postgres", "--Storage:ConnectionString=Host=localhost;NoSuchKeyword=1");

        Assert.Equal(NodeRunner.BadSettings, exit);
    }

    [Fact]
    public async Task Migrate_UnparsableSetting_Exits2()
    {
        var exit = await RunAsync("migrate", $"--Storage:ConnectionString={_database.ConnectionString}", "--Cluster:MaxConcurrency=many");

        Assert.Equal(NodeRunner.BadSettings, exit);
        Assert.False(File.Exists(_database.FilePath));
    }

    [Fact]
    public async Task Run_PortInUse_ExitsNonZeroWithOneLineNamingTheAddress_NoStackTrace()
    {
        Directory.CreateDirectory(_database.DirectoryPath);
        using var other = new TcpListener(IPAddress.Loopback, 0); // the other process that holds the port
        other.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)other.LocalEndpoint).Port}";

        var (exitCode, output) = await NodeProcess.RunUntilExitAsync(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["urls"] = url,
        });

        Assert.Equal(NodeRunner.StartFailed, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines, l => l.Contains(url, StringComparison.Ordinal));
        Assert.StartsWith("The node cannot start:", line, StringComparison.Ordinal);
        Assert.Contains("--urls", line, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)); // no stack trace
        Assert.DoesNotContain(lines, l => l.Contains(" FTL]", StringComparison.Ordinal) || l.Contains(" ERR]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Migrate_UnreachableDatabase_Exits1()
    {
        // Port 1 on loopback refuses at once: no server is needed to see the failure.
        var exit = await RunAsync("migrate", "--Storage:Provider=Postgres",
            "--Storage:ConnectionString=Host=127.0.0.1;Port=1;Username=nobody;Database=nothing;Timeout=5");

        Assert.Equal(NodeRunner.StartFailed, exit);
    }
}

/// <summary><c>migrate</c> against a real PostgreSQL server (<c>BATCHSCHEDULER_TEST_POSTGRES</c>).</summary>
[Trait("Provider", "Postgres")]
public sealed class PostgresNodeRunnerTests
{
    private static Task<int> RunAsync(params string[] args) => SchedulerCommands.Create().Parse(args).InvokeAsync();

    private static async Task<List<string>> TablesAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", connection);
        var tables = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            tables.Add(reader.GetString(0));
        return tables;
    }

    [Fact]
    public async Task Migrate_FreshPostgresDatabase_CreatesTheSchemaAndIsRepeatable()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        string[] args = ["migrate", "--Storage:Provider=Postgres", $"--Storage:ConnectionString={database.ConnectionString}"];

        Assert.Equal(0, await RunAsync(args));
        var tables = await TablesAsync(database.ConnectionString);
        Assert.Contains("work_items", tables);
        Assert.Contains("failures", tables);
        Assert.Contains("qrtz_triggers", tables);

        Assert.Equal(0, await RunAsync(args));
        Assert.Equal(tables.Order(), (await TablesAsync(database.ConnectionString)).Order());
    }
}

using Npgsql;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// A fresh, uniquely named database on the PostgreSQL server named by <c>BATCHSCHEDULER_TEST_POSTGRES</c>
/// (an admin connection string, which ./test.sh sets after starting a server); dropped on dispose.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    public const string ServerVariable = "BATCHSCHEDULER_TEST_POSTGRES";

    private readonly string _adminConnectionString;

    private PostgresTestDatabase(string adminConnectionString, string name)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>The database's name, <c>bs_test_&lt;32 hex digits&gt;</c>.</summary>
    public string Name { get; }

    /// <summary>A connection string to this database, with the admin credentials.</summary>
    public string ConnectionString { get; }

    /// <summary>The admin connection string from <c>BATCHSCHEDULER_TEST_POSTGRES</c>; throws when it is not set.</summary>
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(ServerVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"PostgreSQL tests need a server: run ./test.sh (it starts a private PostgreSQL and sets {ServerVariable}), "
                + $"or set {ServerVariable} to an admin connection string such as "
                + "'Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres'.");

    public static async Task<PostgresTestDatabase> CreateAsync()
    {
        var admin = AdminConnectionString;
        var database = new PostgresTestDatabase(admin, $"bs_test_{Guid.NewGuid():N}");
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{database.Name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        // Idle pooled connections to the test database would hold it open; FORCE ends any others.
        await using (var pooled = new NpgsqlConnection(ConnectionString))
            NpgsqlConnection.ClearPool(pooled);
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}

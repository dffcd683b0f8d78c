using DbUp;
using DbUp.Builder;
using Microsoft.Data.SqlClient;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// SQL Server: runs are serialised by a session-owned application lock (<c>sp_getapplock</c>) on a
/// dedicated connection. Shipped, not verified against a server in this repository's CI.
/// </summary>
internal sealed class SqlServerMigrationTarget : IMigrationTarget
{
    internal const string LockResource = "BatchScheduler.Migrate";

    private const int CannotOpenDatabase = 4060;

    private const string GetLockSql = """
        DECLARE @result int;
        EXEC @result = sp_getapplock @Resource = N'BatchScheduler.Migrate', @LockMode = 'Exclusive',
            @LockOwner = 'Session', @LockTimeout = @timeout;
        SELECT @result;
        """;

    private const string ReleaseLockSql =
        "EXEC sp_releaseapplock @Resource = N'BatchScheduler.Migrate', @LockOwner = 'Session';";

    private readonly string _connectionString;
    private readonly ILogger _logger;

    public SqlServerMigrationTarget(string connectionString, ILogger logger)
    {
        var builder = new SqlConnectionStringBuilder(connectionString);
        _connectionString = connectionString;
        _logger = logger;
        Database = builder.InitialCatalog is { Length: > 0 } catalog ? catalog : "(login default)";
        Description = $"SQL Server database '{Database}' on {builder.DataSource}";
    }

    public string Database { get; }

    public string Description { get; }

    public async Task<IAsyncDisposable> AcquireLockAsync(CancellationToken cancellationToken)
    {
        // Unpooled: disposing the connection ends the session, and with it the lock, whatever happens.
        var lockConnectionString = new SqlConnectionStringBuilder(_connectionString) { Pooling = false }.ConnectionString;
        var connection = new SqlConnection(lockConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            var result = await GetLockAsync(connection, timeoutMilliseconds: 0, cancellationToken);
            if (result == -1)
            {
                MigrationLog.WaitingForLock(_logger, Description);
                result = await GetLockAsync(connection, timeoutMilliseconds: -1, cancellationToken);
            }

            if (result < 0)
                throw new SchemaMigrationException(
                    $"sp_getapplock on {Description} refused the migration lock '{LockResource}' with result {result} "
                    + "(-2 cancelled, -3 deadlock victim, -999 parameter or call error).");

            return new HeldLock(connection, ReleaseLockSql, Description, _logger);
        }
        catch (SqlException exception) when (exception.Number == CannotOpenDatabase)
        {
            await connection.DisposeAsync();
            throw new SchemaMigrationException(
                $"{Description} cannot be opened: it does not exist or the login has no access. Create it first "
                + "and run migrate again: migrate creates tables, never databases.",
                exception);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public UpgradeEngineBuilder CreateBuilder() =>
        // No schema: scripts and journal land in the login's default schema, as the host's queries do.
        DeployChanges.To
            .SqlDatabase(_connectionString, null)
            .JournalToSqlTable(null, SchemaMigrator.JournalTable);

    private static async Task<int> GetLockAsync(SqlConnection connection, int timeoutMilliseconds, CancellationToken cancellationToken)
    {
        await using var command = new SqlCommand(GetLockSql, connection) { CommandTimeout = 0 };
        command.Parameters.AddWithValue("@timeout", timeoutMilliseconds);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }
}

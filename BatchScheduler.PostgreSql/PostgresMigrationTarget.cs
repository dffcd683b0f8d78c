using DbUp;
using DbUp.Builder;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// PostgreSQL: runs are serialised by a session advisory lock on a dedicated connection, so nodes that
/// start together migrate one after the other and the later ones find nothing left to apply.
/// </summary>
internal sealed class PostgresMigrationTarget : IMigrationTarget
{
    /// <summary>The advisory lock key ("BSMigrat" in ASCII). Every node must use the same one.</summary>
    internal const long LockKey = 0x4253_4D69_6772_6174;

    private readonly string _connectionString;
    private readonly ILogger _logger;

    public PostgresMigrationTarget(string connectionString, ILogger logger)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _connectionString = connectionString;
        _logger = logger;
        Database = builder.Database ?? builder.Username ?? "(default)";
        Description = $"PostgreSQL database '{Database}' on {builder.Host}:{builder.Port}";
    }

    public string Database { get; }

    public string Description { get; }

    public async Task<IAsyncDisposable> AcquireLockAsync(CancellationToken cancellationToken)
    {
        // Unpooled: disposing the connection ends the session, and with it the lock, whatever happens.
        var lockConnectionString = new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false }.ConnectionString;
        var connection = new NpgsqlConnection(lockConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (!await TryLockAsync(connection, cancellationToken))
            {
                MigrationLog.WaitingForLock(_logger, Description);
                await using var wait = new NpgsqlCommand($"SELECT pg_advisory_lock({LockKey})", connection) { CommandTimeout = 0 };
                await wait.ExecuteNonQueryAsync(cancellationToken);
            }

            return new HeldLock(connection, $"SELECT pg_advisory_unlock({LockKey})", Description, _logger);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            await connection.DisposeAsync();
            throw new SchemaMigrationException(
                $"{Description} does not exist. Create it first (CREATE DATABASE \"{Database}\";) and run migrate again: "
                + "migrate creates tables, never databases.",
                exception);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public UpgradeEngineBuilder CreateBuilder() =>
        // No schema: scripts and journal land in the connection's search_path, as the host's queries do.
        DeployChanges.To
            .PostgresqlDatabase(_connectionString, null)
            .JournalToPostgresqlTable(null, SchemaMigrator.JournalTable);

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LockKey})", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }
}

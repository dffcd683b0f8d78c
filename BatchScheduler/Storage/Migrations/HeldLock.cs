using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// A session-scoped database lock held on its own unpooled connection. Disposing releases it; should
/// the release statement fail, closing the connection ends the session, which releases it anyway.
/// </summary>
internal sealed class HeldLock(DbConnection connection, string releaseSql, string database, ILogger logger) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = releaseSql;
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (DbException exception)
        {
            MigrationLog.LockReleaseFailed(logger, exception, database);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }
}

/// <summary>The lock of a database that needs none (SQLite serialises writers itself).</summary>
internal sealed class NoLock : IAsyncDisposable
{
    public static readonly NoLock Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

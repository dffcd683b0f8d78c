using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace BatchScheduler.Storage;

/// <summary>
/// The SQLite data source every connection of the node comes from, Quartz's included: each connection, as it
/// opens, is switched to <c>synchronous = NORMAL</c>. The file is in WAL mode (set by the migration, persistent),
/// where NORMAL keeps the database consistent through any crash and an application crash loses nothing; only
/// an operating-system crash or power loss can undo the last commits, as the WAL is then synced at checkpoints
/// rather than at each commit. FULL (SQLite's default) syncs every commit, which bounded the node to a few
/// hundred executions a second on one disk.
/// </summary>
internal sealed class SqliteTunedDataSource(string connectionString) : DbDataSource
{
    private const string Pragmas = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000;";

    public override string ConnectionString { get; } = connectionString;

    protected override DbConnection CreateDbConnection()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.StateChange += OnStateChange;
        return connection;
    }

    private static void OnStateChange(object sender, StateChangeEventArgs e)
    {
        if (e.CurrentState != ConnectionState.Open || sender is not SqliteConnection connection)
            return;
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }
}

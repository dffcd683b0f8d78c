using Npgsql;

namespace BatchScheduler.Bench;

/// <summary>A fresh PostgreSQL database for one scenario, dropped afterwards.</summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private BenchDatabase(string admin, string name)
    {
        _admin = admin;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<BenchDatabase> CreateAsync(string adminConnectionString, string prefix)
    {
        var name = $"bench_{prefix}_{Guid.NewGuid():N}"[..40].ToLowerInvariant().Replace('-', '_');
        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync();
        await using (var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin))
            await create.ExecuteNonQueryAsync();
        var db = new BenchDatabase(adminConnectionString, name);
        await db.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        return db;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        // Maintenance (VACUUM ANALYZE of millions of rows) outlasts Npgsql's default 30 s.
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 1800 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Statements (pg_stat_statements, this database) and commits (pg_stat_database) so far. Call it
    /// with no client connected to the database (stop schedulers and clear pools first), so every
    /// backend has exited and flushed its counters.
    /// </summary>
    public async Task<(long Statements, long Commits)> CountersAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        for (var i = 0; i < 300; i++)
        {
            await using var others = new NpgsqlCommand("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", connection);
            if ((long)(await others.ExecuteScalarAsync())! == 0)
                break;
            await Task.Delay(100);
        }
        await using var command = new NpgsqlCommand(
            """
            SELECT pg_stat_clear_snapshot();
            SELECT (SELECT COALESCE(SUM(s.calls), 0)::bigint FROM pg_stat_statements s WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())),
                   (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database());
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.NextResultAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

using DbUp;
using DbUp.Builder;
using Microsoft.Data.Sqlite;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// SQLite: one node only, so no lock of our own. The file's directory is created when missing, the
/// database is switched to WAL (persistent, so every later connection gets it), and a second writer
/// waits on SQLite's own lock for up to the connection string's <c>Default Timeout</c> (30 s unless set).
/// </summary>
internal sealed class SqliteMigrationTarget : IMigrationTarget
{
    private readonly string _connectionString;
    private readonly SqliteConnectionStringBuilder _builder;

    public SqliteMigrationTarget(string connectionString)
    {
        _builder = new SqliteConnectionStringBuilder(connectionString);
        _connectionString = connectionString;
        Description = $"SQLite database '{_builder.DataSource}'";
    }

    public string Description { get; }

    private bool IsFile =>
        _builder.Mode != SqliteOpenMode.Memory
        && _builder.DataSource is { Length: > 0 } source
        && source != ":memory:"
        && !source.StartsWith("file:", StringComparison.OrdinalIgnoreCase);

    public async Task<IAsyncDisposable> AcquireLockAsync(CancellationToken cancellationToken)
    {
        if (!IsFile)
            return NoLock.Instance;

        var directory = Path.GetDirectoryName(Path.GetFullPath(_builder.DataSource));
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);

        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Outside any transaction: SQLite refuses to change the journal mode inside one.
        command.CommandText = "PRAGMA journal_mode=WAL;";
        await command.ExecuteScalarAsync(cancellationToken);
        return NoLock.Instance;
    }

    public UpgradeEngineBuilder CreateBuilder() =>
        DeployChanges.To
            .SqliteDatabase(_connectionString)
            .JournalToSqliteTable(SchemaMigrator.JournalTable)
            .WithPreprocessor(new SqliteAddColumnGuard(_connectionString))
            .WithPreprocessor(new SqliteRebuildGuard());
}

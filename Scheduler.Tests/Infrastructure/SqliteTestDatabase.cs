using Microsoft.Data.Sqlite;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>A SQLite database file in a fresh temp directory; the files and the directory go on dispose.</summary>
public sealed class SqliteTestDatabase : IDisposable
{
    public SqliteTestDatabase()
    {
        DirectoryPath = Path.Combine(Path.GetTempPath(), $"bs-test-{Guid.NewGuid():N}");
        FilePath = Path.Combine(DirectoryPath, "batchscheduler.db");
        ConnectionString = new SqliteConnectionStringBuilder { DataSource = FilePath }.ToString();
    }

    /// <summary>The directory the file lives in; not created here, so a test can see who creates it.</summary>
    public string DirectoryPath { get; }

    /// <summary>The database file.</summary>
    public string FilePath { get; }

    public string ConnectionString { get; }

    public void Dispose()
    {
        // Pooled connections keep the file open, and -wal/-shm exist while any connection does.
        SqliteConnection.ClearAllPools();
        if (!Directory.Exists(DirectoryPath))
            return;
        foreach (var file in new[] { FilePath, FilePath + "-wal", FilePath + "-shm", FilePath + "-journal" })
            File.Delete(file);
        if (Directory.Exists(DirectoryPath))
            Directory.Delete(DirectoryPath, recursive: true);
    }
}

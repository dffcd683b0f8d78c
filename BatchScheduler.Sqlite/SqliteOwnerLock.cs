using BatchScheduler.Configuration;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Storage;

/// <summary>
/// Makes a node the only one on its SQLite database file. Quartz cannot cluster on SQLite, so two
/// nodes on one file would each run every item as if alone. The first hosted service to start: it
/// takes an exclusive lock on <c>&lt;file&gt;.lock</c> before the schema is migrated or Quartz starts,
/// and holds it until the node stops; a second node, of any role, fails to start with
/// <see cref="SqliteStoreInUseException"/>, which names the file and the node that holds it.
/// </summary>
/// <remarks>
/// The lock is the operating system's: a <see cref="FileStream"/> opened with <see cref="FileShare.None"/>,
/// which .NET takes with <c>flock(LOCK_EX)</c> on Linux and macOS and as a sharing mode on Windows. It
/// belongs to the open file, so the OS releases it whenever the process ends, SIGKILL included: there
/// is no stale lock to clear by hand. Two nodes in one process conflict as two processes do. Being
/// advisory on Unix, it binds nodes (any version with this lock), not the <c>sqlite3</c> shell or
/// <c>Scheduler migrate</c>, which rely on SQLite's own locking. An in-memory database needs no lock.
/// </remarks>
internal sealed partial class SqliteOwnerLock(
    IOptions<StorageOptions> storage, IOptions<ClusterOptions> cluster, NodeIdentity node, TimeProvider time,
    ILogger<SqliteOwnerLock> logger) : IHostedService, IDisposable
{
    private FileStream? _held;

    /// <summary>The database file's full path, or null for a store that is not a SQLite file.</summary>
    public static string? DatabaseFile(StorageOptions options)
    {
        if (options.Provider != StorageProvider.Sqlite)
            return null;
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException)
        {
            return null; // settings validation names the bad connection string
        }
        var source = builder.DataSource;
        if (builder.Mode == SqliteOpenMode.Memory || string.IsNullOrEmpty(source) || source == ":memory:")
            return null;
        if (source.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            // A URI file name: file:path?mode=...; file::memory: and mode=memory are in memory.
            var query = source.IndexOf('?', StringComparison.Ordinal);
            if (query >= 0 && source[query..].Contains("mode=memory", StringComparison.OrdinalIgnoreCase))
                return null;
            source = Uri.UnescapeDataString(query >= 0 ? source[5..query] : source[5..]);
            if (source.StartsWith("//", StringComparison.Ordinal))
                source = source[2..]; // file://host/path: the empty or localhost authority
            if (source is "" or ":memory:")
                return null;
        }
        return Path.GetFullPath(source);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (DatabaseFile(storage.Value) is not { } database)
            return Task.CompletedTask;
        if (Path.GetDirectoryName(database) is { Length: > 0 } directory)
            Directory.CreateDirectory(directory);
        var lockPath = database + ".lock";
        try
        {
            _held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
        {
            throw new SqliteStoreInUseException(database, SqliteStoreOwner.ReadFrom(SqliteStoreOwner.PathFor(database)), ex);
        }
        var owner = new SqliteStoreOwner(node.Id, cluster.Value.Role, Environment.MachineName, Environment.ProcessId, time.GetUtcNow());
        owner.WriteTo(SqliteStoreOwner.PathFor(database));
        Holding(logger, database, lockPath);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Releases the file (also when the host fails to start and is disposed without stopping).</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _held, null)?.Dispose();
    }

    [LoggerMessage(1410, LogLevel.Information, "This node holds the SQLite database {Database} (lock {LockFile}) until it stops")]
    private static partial void Holding(ILogger logger, string database, string lockFile);
}

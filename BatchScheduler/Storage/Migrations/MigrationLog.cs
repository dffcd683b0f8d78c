using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>Log messages of schema migration; event ids 1300-1399.</summary>
internal static partial class MigrationLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Information,
        Message = "Migrating the {Provider} schema of {Database}: {ScriptCount} scripts known")]
    public static partial void Starting(ILogger logger, StorageProvider provider, string database, int scriptCount);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information,
        Message = "Waiting for the migration lock on {Database} (another node may be migrating)")]
    public static partial void WaitingForLock(ILogger logger, string database);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information,
        Message = "Schema of {Database} is up to date; no script applied")]
    public static partial void UpToDate(ILogger logger, string database);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information,
        Message = "Applied {ScriptCount} scripts to {Database}: {Scripts}")]
    public static partial void Applied(ILogger logger, int scriptCount, string database, string scripts);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning,
        Message = "Could not release the migration lock on {Database}; it goes when the lock's connection closes")]
    public static partial void LockReleaseFailed(ILogger logger, Exception exception, string database);

    /// <summary>A line DbUp wrote, at the level DbUp chose.</summary>
    [LoggerMessage(EventId = 1310, Message = "DbUp: {DbUpMessage}")]
    public static partial void DbUp(ILogger logger, LogLevel level, Exception? exception, string dbUpMessage);
}

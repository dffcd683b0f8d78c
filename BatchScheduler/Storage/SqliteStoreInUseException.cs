namespace BatchScheduler.Storage;

/// <summary>
/// The SQLite database file is held by another node. Retrying makes sense only once that node has
/// stopped: SQLite is one node's store (Quartz cannot cluster on it).
/// </summary>
internal sealed class SqliteStoreInUseException(string databasePath, SqliteStoreOwner? owner, Exception inner)
    : InvalidOperationException(
        $"The node cannot start: the SQLite database {databasePath} is in use by "
        + (owner?.ToString() ?? $"another process (its owner file {SqliteStoreOwner.PathFor(databasePath)} could not be read)")
        + ". SQLite holds one node: stop that node first, or use PostgreSQL to run several.",
        inner)
{
    /// <summary>The database file's full path.</summary>
    public string DatabasePath { get; } = databasePath;

    /// <summary>The node holding it, as it wrote itself down; null when that could not be read.</summary>
    public SqliteStoreOwner? Owner { get; } = owner;
}

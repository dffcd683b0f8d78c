namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// The schema could not be brought up to date. The message names the script that failed (when one did)
/// and the database's own error; scripts applied before it stay applied and journaled, and the failed
/// script's transaction was rolled back, so fixing the cause and running migrate again is safe.
/// </summary>
internal sealed class SchemaMigrationException : Exception
{
    public SchemaMigrationException(string message)
        : base(message)
    {
    }

    public SchemaMigrationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public SchemaMigrationException(string message, string? scriptName, Exception? innerException)
        : base(message, innerException)
    {
        ScriptName = scriptName;
    }

    /// <summary>The script that failed, e.g. <c>V002__batchscheduler_tables.sql</c>; null when none had started.</summary>
    public string? ScriptName { get; }
}

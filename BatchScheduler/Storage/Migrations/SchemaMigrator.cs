using System.Data.Common;
using DbUp.Engine;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// Creates or upgrades the schema of a store: runs the scripts under <c>database/&lt;provider&gt;/</c>
/// that its <c>schema_versions</c> journal does not list yet, oldest first, each in its own transaction.
/// Safe when several nodes start at once: a database lock makes their runs take turns.
/// </summary>
internal sealed class SchemaMigrator(ILogger<SchemaMigrator> logger, StoreDriver driver)
{
    /// <summary>The table DbUp records applied scripts in.</summary>
    public const string JournalTable = "schema_versions";

    /// <summary>
    /// Applies whatever scripts are new and returns their names (e.g. <c>V002__batchscheduler_tables.sql</c>),
    /// oldest first; empty when the schema is up to date.
    /// </summary>
    /// <exception cref="SchemaMigrationException">
    /// The database could not be reached or locked, or a script failed; the message names the script and the
    /// database's error. Scripts applied before the failing one stay applied.
    /// </exception>
    public async Task<IReadOnlyList<string>> MigrateAsync(
        StorageProvider provider, string connectionString, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        cancellationToken.ThrowIfCancellationRequested();

        var scripts = MigrationScripts.For(provider);
        var target = CreateTarget(provider, connectionString);
        MigrationLog.Starting(logger, provider, target.Description, scripts.Count);

        IAsyncDisposable heldLock;
        try
        {
            heldLock = await target.AcquireLockAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is DbException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            throw new SchemaMigrationException($"Could not open {target.Description} to migrate it: {exception.Message}", exception);
        }

        await using (heldLock)
        {
            var engine = target.CreateBuilder()
                .WithScripts(scripts)
                .WithTransactionPerScript()
                .WithVariablesDisabled()
                .LogTo(new UpgradeLogAdapter(logger))
                .Build();

            // DbUp blocks for as long as the scripts run; on a thread of its own it starves no pool thread.
            var result = await Task.Factory.StartNew(
                engine.PerformUpgrade, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            if (!result.Successful)
                throw Failure(target, result);

            var applied = result.Scripts.Select(s => s.Name).ToArray();
            if (applied.Length == 0)
                MigrationLog.UpToDate(logger, target.Description);
            else
                MigrationLog.Applied(logger, applied.Length, target.Description, string.Join(", ", applied));
            return applied;
        }
    }

    private IMigrationTarget CreateTarget(StorageProvider provider, string connectionString)
    {
        try
        {
            if (provider != driver.Provider)
                throw new ArgumentOutOfRangeException(nameof(provider), provider, $"This node has the {driver.Provider} store, not {provider}.");
            return driver.MigrationTarget(connectionString, logger);
        }
        catch (ArgumentException exception) when (exception.ParamName != "provider")
        {
            throw new SchemaMigrationException($"The {provider} connection string is not valid: {exception.Message}", exception);
        }
    }

    private static SchemaMigrationException Failure(IMigrationTarget target, DatabaseUpgradeResult result)
    {
        var error = result.Error?.Message ?? "no error was reported";
        return result.ErrorScript is { } script
            ? new SchemaMigrationException(
                $"Migration script {script.Name} failed on {target.Description} and was rolled back: {error}",
                script.Name,
                result.Error)
            : new SchemaMigrationException(
                $"Migrating {target.Description} failed before any script ran (journal table {JournalTable}): {error}",
                null,
                result.Error);
    }
}

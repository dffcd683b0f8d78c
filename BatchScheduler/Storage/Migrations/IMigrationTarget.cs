using DbUp.Builder;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>One provider's side of a migration: how DbUp reaches it and what keeps two runs apart.</summary>
internal interface IMigrationTarget
{
    /// <summary>Where the schema lives, for messages: host and database, never credentials.</summary>
    string Description { get; }

    /// <summary>
    /// Readies the database and takes the lock that serialises migrate runs against it, waiting for
    /// another node's run to finish. Disposing the result releases the lock.
    /// </summary>
    Task<IAsyncDisposable> AcquireLockAsync(CancellationToken cancellationToken);

    /// <summary>A DbUp builder aimed at this database with the <c>schema_versions</c> journal.</summary>
    UpgradeEngineBuilder CreateBuilder();

}

using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Hosting;

/// <summary>
/// Brings the schema up to date before Quartz starts (Quartz validates its tables at start).
/// Always on for SQLite, so the embedded default creates its schema on first start.
/// </summary>
internal sealed class SchemaMigrationService(SchemaMigrator migrator, IOptions<StorageOptions> storage) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = storage.Value;
        if (options.MigrateOnStart || options.Provider == StorageProvider.Sqlite)
            await migrator.MigrateAsync(options.Provider, options.ConnectionString, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

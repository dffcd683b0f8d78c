using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Tests.Storage.Migrations;

/// <summary>A <see cref="SchemaMigrator"/> for whichever store a test names, with the store package the executable would choose.</summary>
internal sealed class AnyStoreMigrator(ILogger<SchemaMigrator> logger)
{
    public Task<IReadOnlyList<string>> MigrateAsync(StorageProvider provider, string connectionString, CancellationToken cancellationToken) =>
        new SchemaMigrator(logger, NodeHost.StoreFor(provider)).MigrateAsync(provider, connectionString, cancellationToken);
}

using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// One node on a fresh SQLite file, shared by the tests of a class (a node start costs ~0.5 s).
/// Subclasses give the settings; tests that share it use their own entity ids.
/// </summary>
public abstract class SharedNodeFixture : IAsyncLifetime
{
    private readonly SqliteTestDatabase _database = new();

    internal TestNode Node { get; private set; } = null!;

    protected abstract Dictionary<string, string?> Settings();

    protected virtual Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? Services => null;

    public async Task InitializeAsync() =>
        Node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, Settings(), Services);

    public async Task DisposeAsync()
    {
        if (Node is not null)
            await Node.DisposeAsync();
        _database.Dispose();
    }
}

using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Coordination;

/// <summary>A fresh database of one provider for one test.</summary>
public sealed class TestStore(StorageProvider provider, string connectionString, Func<ValueTask> dispose) : IAsyncDisposable
{
    public StorageProvider Provider { get; } = provider;

    public string ConnectionString { get; } = connectionString;

    public static async Task<TestStore> CreateAsync(StorageProvider provider)
    {
        if (provider == StorageProvider.Postgres)
        {
            var pg = await PostgresTestDatabase.CreateAsync();
            return new TestStore(provider, pg.ConnectionString, pg.DisposeAsync);
        }
        var sqlite = new SqliteTestDatabase();
        return new TestStore(provider, sqlite.ConnectionString, () => { sqlite.Dispose(); return ValueTask.CompletedTask; });
    }

    public ValueTask DisposeAsync() => dispose();
}

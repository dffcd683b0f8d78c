using System.Collections.Concurrent;
using System.Net.Http.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Credits;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>Vendor credits on a real database: a window's budget is never overspent, across nodes too.</summary>
public abstract class VendorCreditsTests(StorageProvider provider)
{
    protected const string Vendor = "acme";

    private static readonly Dictionary<string, string?> Settings = new() { ["Cluster:Role"] = "api", ["DataTypes:x:Executor"] = "noop" };

    [Fact]
    public async Task AWindowPaysForItsBudget_ThenTheNextWindowPaysAgain()
    {
        await using var fixture = await LedgerFixture.StartAsync(provider, "2026-11-22T10:00:03Z");
        var (node, time) = (fixture.Node, fixture.Time);
        var credits = Ledger(node, time, budget: 5);

        for (var i = 0; i < 5; i++)
            Assert.NotNull(await credits.TryReserveAsync(Vendor, 1, CancellationToken.None));
        Assert.Null(await credits.TryReserveAsync(Vendor, 1, CancellationToken.None));

        time.Advance(TimeSpan.FromSeconds(7)); // 10:00:10, the next window
        var next = await credits.TryReserveAsync(Vendor, 1, CancellationToken.None);
        Assert.NotNull(next);
        Assert.Equal(DateTimeOffset.Parse("2026-11-22T10:00:10Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), next.WindowStart);
    }

    [Fact]
    public async Task TwoNodesTogether_NeverReserveMoreThanTheBudget()
    {
        await using var fixture = await LedgerFixture.StartAsync(provider, "2026-11-22T10:00:01Z");
        var (node, time) = (fixture.Node, fixture.Time);
        var first = Ledger(node, time, budget: 7);
        var second = Ledger(node, time, budget: 7); // its own share, as another node would have

        var attempts = Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? first : second).TryReserveAsync(Vendor, 1, CancellationToken.None));
        var granted = (await Task.WhenAll(attempts)).Count(r => r is not null);

        Assert.Equal(7, granted);
        Assert.Equal((7L, 0L), await RowAsync(node, Vendor));
    }

    [Fact]
    public async Task ReportedCosts_GiveBackOrTakeMore_AndAreRecordedAsUsed()
    {
        await using var fixture = await LedgerFixture.StartAsync(provider, "2026-11-22T10:00:01Z");
        var (node, time) = (fixture.Node, fixture.Time);
        var credits = Ledger(node, time, budget: 6);

        var cheap = await credits.TryReserveAsync(Vendor, 2, CancellationToken.None);
        await credits.SettleAsync(cheap!, 1, CancellationToken.None);   // one credit back
        var dear = await credits.TryReserveAsync(Vendor, 1, CancellationToken.None);
        await credits.SettleAsync(dear!, 4, CancellationToken.None);    // three more taken
        await credits.FlushAsync(CancellationToken.None);

        Assert.Equal((5L, 5L), await RowAsync(node, Vendor));           // reserved 2 + 3, used 1 + 4
        Assert.NotNull(await credits.TryReserveAsync(Vendor, 1, CancellationToken.None));
        Assert.Null(await credits.TryReserveAsync(Vendor, 1, CancellationToken.None));
    }

    /// <summary>A node on a fresh database (for its schema and connections) and a clock the test moves.</summary>
    private sealed class LedgerFixture(TestStore store, TestNode node, FakeTimeProvider time) : IAsyncDisposable
    {
        public TestNode Node { get; } = node;

        public FakeTimeProvider Time { get; } = time;

        public static async Task<LedgerFixture> StartAsync(StorageProvider provider, string now)
        {
            var store = await TestStore.CreateAsync(provider);
            var node = await TestNode.StartAsync(provider, store.ConnectionString, Settings);
            return new LedgerFixture(store, node, new FakeTimeProvider(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture)));
        }

        public async ValueTask DisposeAsync()
        {
            await Node.DisposeAsync();
            await store.DisposeAsync();
        }
    }

    private static VendorCredits Ledger(TestNode node, TimeProvider time, int budget)
    {
        var vendors = new VendorsOptions();
        vendors.Items[Vendor] = new VendorOptions { Credits = budget, Window = TimeSpan.FromSeconds(10) };
        return new VendorCredits(node.App.Services.GetRequiredService<ConnectionFactory>(), Options.Create(vendors), time, NullLogger<VendorCredits>.Instance);
    }

    private static async Task<(long Reserved, long Used)> RowAsync(TestNode node, string vendor)
    {
        await using var connection = await node.App.Services.GetRequiredService<ConnectionFactory>().OpenAsync(CancellationToken.None);
        await using var command = connection.Command("SELECT reserved, used FROM vendor_credits WHERE vendor = @v").With("@v", vendor);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var row = (Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(await reader.ReadAsync());
        return row;
    }
}

public sealed class SqliteVendorCreditsTests() : VendorCreditsTests(StorageProvider.Sqlite)
{
    [Theory]
    [InlineData(800, 1, 40)]
    [InlineData(5, 1, 1)]
    [InlineData(100_000, 1, 50)]
    [InlineData(100, 7, 7)]
    public void CreditsAreTakenInBlocks(int credits, int cost, int block) => Assert.Equal(block, VendorCredits.BlockSize(credits, cost));

    [Fact]
    public void WindowsAlignToMultiplesOfTheirLengthSinceTheEpoch() =>
        Assert.Equal(60_000L, VendorCredits.WindowStart(TimeSpan.FromMinutes(1), DateTimeOffset.FromUnixTimeMilliseconds(119_999)));
}

public sealed class PostgresVendorCreditsTests() : VendorCreditsTests(StorageProvider.Postgres)
{
    /// <summary>The case: 5 credits per 10 s shared by two worker nodes, 20 items.</summary>
    [Fact]
    public async Task TwoWorkers_NeverCallAVendorMoreThanItsCreditsPerWindow_AndNothingFails()
    {
        const int items = 20, budget = 5;
        var window = TimeSpan.FromSeconds(10);
        await using var database = await PostgresTestDatabase.CreateAsync();
        var calls = new ConcurrentQueue<(DateTimeOffset At, WorkItemContext Context)>();
        var executor = new TimedExecutor(calls);
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            [$"{VendorOptions.Section}:{Vendor}:Credits"] = $"{budget}",
            [$"{VendorOptions.Section}:{Vendor}:Window"] = "00:00:10",
            ["DataTypes:paid:Executor"] = "timed",
            ["DataTypes:paid:Vendor"] = Vendor,
            ["DataTypes:paid:CreditsPerCall"] = "1",
        };
        void AddExecutor(IServiceCollection s) => s.AddExecutor("timed", executor);
        await using var first = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutor);
        await using var second = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, settings, AddExecutor);

        using var response = await first.Http.PostAsJsonAsync("/api/work-items",
            new { dataType = "paid", items = Enumerable.Range(0, items).Select(i => new { entityId = $"e{i:00}" }) });
        response.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () =>
        {
            var done = await first.Store.ListAsync(new WorkItemQuery("paid", WorkItemStates.Completed, null, 1, 1), CancellationToken.None);
            return done.Total == items;
        }, TimeSpan.FromMinutes(2), "all 20 paid items complete, 5 per 10 s window");

        Assert.Equal(items, calls.Count);
        Assert.All(calls, c => Assert.Equal(1, c.Context.Attempt)); // waiting for credits never counts an attempt
        var perWindow = calls.GroupBy(c => VendorCredits.WindowStart(window, c.At)).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(perWindow, w => Assert.True(w.Value <= budget, $"{w.Value} calls in the window starting {DateTimeOffset.FromUnixTimeMilliseconds(w.Key):O}"));
        Assert.True(perWindow.Count >= items / budget);
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var failures = new NpgsqlCommand("SELECT count(*) FROM failures", connection);
        Assert.Equal(0L, (long)(await failures.ExecuteScalarAsync())!);

        // The API shows the windows' use (written about once a second).
        await Eventually.TrueAsync(async () =>
        {
            var vendors = await first.Http.GetFromJsonAsync<List<VendorStatus>>("/api/vendors");
            var acme = Assert.Single(vendors!);
            Assert.Equal(["paid"], acme.DataTypes);
            Assert.All(acme.Recent, w => Assert.True(w.Reserved <= budget));
            return acme.Recent.Sum(w => w.Used) == items;
        }, TimeSpan.FromSeconds(30), "GET /api/vendors shows the 20 credits used");
    }

    private sealed class TimedExecutor(ConcurrentQueue<(DateTimeOffset, WorkItemContext)> calls) : IWorkItemExecutor
    {
        public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            calls.Enqueue((TimeProvider.System.GetUtcNow(), context));
            return ValueTask.CompletedTask;
        }
    }
}

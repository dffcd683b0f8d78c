using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Limits;

/// <summary>
/// Issue 22: per-data-type concurrency limits and node pools, on real nodes and stores. Concurrency is
/// counted by the executor itself (<see cref="Recorder"/>), outside the scheduler's own bookkeeping:
/// what the data type's downstream service would see.
/// </summary>
public sealed class ConcurrencyLimitTests
{
    private const string Capped = "capped";
    private const string Free = "free";

    /// <summary>How long each recorded execution runs: long enough that items of one data type overlap when nothing stops them.</summary>
    private static readonly TimeSpan Work = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Counts the executions running at once per data type, and per data type and node, as the executor
    /// sees them; records the order items start in. An item named "hold" waits for <see cref="Release"/>.
    /// </summary>
    private sealed class Recorder : IWorkItemExecutor
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, int> _running = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _max = new(StringComparer.Ordinal);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<(string DataType, string EntityId, string Node)> Started { get; } = new();

        public ConcurrentQueue<(string DataType, string EntityId)> Finished { get; } = new();

        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        /// <summary>The most executions of <paramref name="dataType"/> seen at once (on <paramref name="node"/>, or anywhere).</summary>
        public int Max(string dataType, string? node = null)
        {
            lock (_lock)
                return _max.GetValueOrDefault(node is null ? dataType : $"{dataType}@{node}");
        }

        public int FinishedOf(string dataType) => Finished.Count(f => f.DataType == dataType);

        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            string[] keys = [context.DataType, $"{context.DataType}@{context.NodeId}"];
            lock (_lock)
            {
                foreach (var key in keys)
                {
                    var now = _running[key] = _running.GetValueOrDefault(key) + 1;
                    _max[key] = Math.Max(_max.GetValueOrDefault(key), now);
                }
            }
            Started.Enqueue((context.DataType, context.EntityId, context.NodeId));
            try
            {
                if (context.EntityId == "hold")
                {
                    Holding.TrySetResult();
                    await _release.Task.WaitAsync(cancellationToken);
                }
                else
                {
                    await Task.Delay(Work, cancellationToken); // the work a downstream call takes
                }
            }
            finally
            {
                lock (_lock)
                {
                    foreach (var key in keys)
                        _running[key]--;
                }
                Finished.Enqueue((context.DataType, context.EntityId));
            }
        }
    }

    private static Dictionary<string, string?> Settings(string nodeId, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:NodeId"] = nodeId,
            ["Cluster:CheckinInterval"] = "00:00:01",
            ["Cluster:MaxConcurrency"] = "8",
            [$"DataTypes:{Capped}:Executor"] = "recorder",
            [$"DataTypes:{Capped}:Cadence:once"] = "",
            [$"DataTypes:{Free}:Executor"] = "recorder",
            [$"DataTypes:{Free}:Cadence:once"] = "",
        };
        foreach (var (key, value) in more)
            settings[key] = value;
        return settings;
    }

    private static Task<TestNode> StartAsync(StorageProvider provider, string connectionString, Recorder recorder, string nodeId, params (string Key, string Value)[] settings) =>
        TestNode.StartAsync(provider, connectionString, Settings(nodeId, settings), s => s.AddExecutor("recorder", recorder));

    private static async Task RegisterAsync(TestNode node, string dataType, IEnumerable<string> entityIds, DateTimeOffset? runAt = null)
    {
        using var response = await node.Http.PostAsJsonAsync("/api/work-items", new
        {
            dataType,
            items = entityIds.Select(id => runAt is { } at ? (object)new { entityId = id, runAt = at.ToString("O") } : new { entityId = id }),
        });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static Task AllFinishedAsync(Recorder recorder, string dataType, int count) =>
        Eventually.TrueAsync(() => Task.FromResult(recorder.FinishedOf(dataType) >= count), TimeSpan.FromSeconds(90),
            $"all {count} items of {dataType} should run");

    private static async Task<JsonElement> DataTypeAsync(TestNode node, string dataType)
    {
        var all = await node.Http.GetFromJsonAsync<JsonElement>("/api/data-types");
        return all.EnumerateArray().Single(t => t.GetProperty("dataType").GetString() == dataType);
    }

    private static string[] Nodes(JsonElement type) => type.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()!).ToArray();

    private static string Id(string name) => $"{name}-{Guid.NewGuid():N}"[..16];

    /// <summary>
    /// Two nodes, a cluster-wide limit of 3: at no moment do more than 3 of the data type's items run, counted at
    /// the executor, while 30 complete across both nodes; an unlimited data type beside it runs more than 3 at once
    /// (so the recorder does see overlap when nothing limits it).
    /// </summary>
    [Fact]
    public async Task ClusterLimit_TwoNodes_NeverMoreThanTheLimitAtOnce_UnlimitedBesideItIsNot()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new Recorder();
        (string, string) limit = ($"DataTypes:{Capped}:MaxConcurrency", "3");
        await using var first = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, Id("one"), limit);
        await using var second = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, Id("two"), limit);

        await RegisterAsync(first, Capped, Enumerable.Range(0, 30).Select(i => $"c{i:00}"));
        await RegisterAsync(second, Free, Enumerable.Range(0, 12).Select(i => $"f{i:00}"));

        await AllFinishedAsync(recorder, Capped, 30);
        await AllFinishedAsync(recorder, Free, 12);
        Assert.Equal(3, recorder.Max(Capped));
        Assert.True(recorder.Max(Free) > 3, $"the unlimited data type ran at most {recorder.Max(Free)} at once");
        // Which node starts each item is Quartz's choice (one node may take them all); a limit counted per node
        // instead of across the cluster shows as a maximum above 3 whenever both do.
        Assert.Equal(30, recorder.Started.Count(s => s.DataType == Capped)); // each once: waiting counted no attempt
    }

    /// <summary>Two nodes, a per-node limit of 2: neither node runs more than 2 of the data type's items at once.</summary>
    [Fact]
    public async Task PerNodeLimit_TwoNodes_NoNodeRunsMoreThanItsLimit()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new Recorder();
        (string, string) limit = ($"DataTypes:{Capped}:MaxConcurrencyPerNode", "2");
        var one = Id("one");
        var two = Id("two");
        await using var first = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, one, limit);
        await using var second = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, two, limit);

        await RegisterAsync(first, Capped, Enumerable.Range(0, 24).Select(i => $"c{i:00}"));

        await AllFinishedAsync(recorder, Capped, 24);
        Assert.InRange(recorder.Max(Capped, one), 0, 2);
        Assert.InRange(recorder.Max(Capped, two), 0, 2);
        Assert.Equal(2, Math.Max(recorder.Max(Capped, one), recorder.Max(Capped, two)));
    }

    /// <summary>
    /// Both limits on two nodes (3 across the cluster, 2 per node): neither is passed, and the cluster does use
    /// more than one node's 2.
    /// </summary>
    [Fact]
    public async Task BothLimits_TwoNodes_NeitherIsPassed()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new Recorder();
        (string, string)[] limits = [($"DataTypes:{Capped}:MaxConcurrency", "3"), ($"DataTypes:{Capped}:MaxConcurrencyPerNode", "2")];
        var one = Id("one");
        var two = Id("two");
        await using var first = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, one, limits);
        await using var second = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, two, limits);

        await RegisterAsync(second, Capped, Enumerable.Range(0, 30).Select(i => $"c{i:00}"));

        await AllFinishedAsync(recorder, Capped, 30);
        Assert.InRange(recorder.Max(Capped), 0, 3);
        Assert.InRange(recorder.Max(Capped, one), 0, 2);
        Assert.InRange(recorder.Max(Capped, two), 0, 2);
    }

    /// <summary>
    /// A limit of 1, its slot held: items that fall due meanwhile wait, and start stalest first once it frees,
    /// whatever order they were registered or named in.
    /// </summary>
    [Theory]
    [InlineData("Postgres")]
    [InlineData("Sqlite")]
    public async Task LimitedItems_WaitingForASlot_StartStalestFirst(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var recorder = new Recorder();
        await using var node = await StartAsync(store.Provider, store.ConnectionString, recorder, Id("one"), ($"DataTypes:{Capped}:MaxConcurrency", "1"));
        await RegisterAsync(node, Capped, ["hold"]);
        await recorder.Holding.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Due in the reverse order of their names, and registered in name order.
        var first = TimeProvider.System.GetUtcNow().AddSeconds(1);
        for (var i = 0; i < 6; i++)
            await RegisterAsync(node, Capped, [$"w{i}"], first.AddMilliseconds((5 - i) * 200));
        await Eventually.TrueAsync(() => Task.FromResult(TimeProvider.System.GetUtcNow() > first.AddSeconds(2)), TimeSpan.FromSeconds(30),
            "every waiting item should be due");
        Assert.Single(recorder.Started); // only "hold": the others wait for its slot
        recorder.Release();

        await AllFinishedAsync(recorder, Capped, 7);
        Assert.Equal(["hold", "w5", "w4", "w3", "w2", "w1", "w0"], recorder.Started.Select(s => s.EntityId));
        Assert.Equal(1, recorder.Max(Capped));
    }

    /// <summary>SQLite (one node): a limit of 2 is honoured, and used.</summary>
    [Fact]
    public async Task Limit_Sqlite_Honoured()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        var recorder = new Recorder();
        await using var node = await StartAsync(store.Provider, store.ConnectionString, recorder, Id("one"), ($"DataTypes:{Capped}:MaxConcurrency", "2"));

        await RegisterAsync(node, Capped, Enumerable.Range(0, 10).Select(i => $"c{i:00}"));
        await RegisterAsync(node, Free, Enumerable.Range(0, 6).Select(i => $"f{i:00}"));

        await AllFinishedAsync(recorder, Capped, 10);
        await AllFinishedAsync(recorder, Free, 6);
        Assert.Equal(2, recorder.Max(Capped));
        Assert.True(recorder.Max(Free) > 2, $"the unlimited data type ran at most {recorder.Max(Free)} at once");
    }

    /// <summary>
    /// A node pool: one node lists only <see cref="Free"/>, so every <see cref="Capped"/> item runs on the other;
    /// <c>GET /api/data-types</c> names the live nodes of each; once the other node stops, <see cref="Capped"/> is
    /// flagged unserved and an item of it that falls due does not start on the remaining node.
    /// </summary>
    [Fact]
    public async Task NodePool_NodeNeverRunsADataTypeItDoesNotList_ApiShowsNodesAndUnserved()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        var recorder = new Recorder();
        var pool = Id("pool");
        var all = Id("all");
        await using var pooled = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, pool, ("Cluster:DataTypes:0", Free));
        var other = await StartAsync(StorageProvider.Postgres, database.ConnectionString, recorder, all);
        try
        {
            await RegisterAsync(pooled, Capped, Enumerable.Range(0, 20).Select(i => $"c{i:00}"));
            await RegisterAsync(pooled, Free, Enumerable.Range(0, 20).Select(i => $"f{i:00}"));
            await AllFinishedAsync(recorder, Capped, 20);
            await AllFinishedAsync(recorder, Free, 20);
            Assert.All(recorder.Started.Where(s => s.DataType == Capped), s => Assert.Equal(all, s.Node));

            await Eventually.TrueAsync(async () => Nodes(await DataTypeAsync(pooled, Free)).Length == 2, TimeSpan.FromSeconds(30),
                "both nodes should be live and listed");
            var capped = await DataTypeAsync(pooled, Capped);
            Assert.Equal([all], Nodes(capped));
            Assert.False(capped.GetProperty("unserved").GetBoolean());
            var freeNodes = Nodes(await DataTypeAsync(pooled, Free));
            Assert.Equal(new[] { all, pool }.Order(StringComparer.Ordinal).ToArray(), freeNodes);
        }
        finally
        {
            await other.DisposeAsync();
        }

        await Eventually.TrueAsync(async () => (await DataTypeAsync(pooled, Capped)).GetProperty("unserved").GetBoolean(), TimeSpan.FromSeconds(30),
            $"{Capped} should be flagged unserved once the only node that runs it has stopped");
        Assert.Empty(Nodes(await DataTypeAsync(pooled, Capped)));
        Assert.False((await DataTypeAsync(pooled, Free)).GetProperty("unserved").GetBoolean());
        var due = TimeProvider.System.GetUtcNow();
        await RegisterAsync(pooled, Capped, ["late"], due);
        await RegisterAsync(pooled, Free, ["after"], due.AddSeconds(1));
        await Eventually.TrueAsync(() => Task.FromResult(recorder.Finished.Contains((Free, "after"))), TimeSpan.FromSeconds(30),
            "the pooled node should run its own data type's item due after the unserved one");
        Assert.DoesNotContain(recorder.Started, s => s.EntityId == "late");
        Assert.Equal("never_run", (await pooled.ItemAsync(Capped, "late"))!.State);
    }

    /// <summary>A PostgreSQL database or a SQLite file for one test.</summary>
    private sealed class TestStore : IAsyncDisposable
    {
        private readonly IAsyncDisposable? _postgres;
        private readonly SqliteTestDatabase? _sqlite;

        private TestStore(StorageProvider provider, string connectionString, IAsyncDisposable? postgres, SqliteTestDatabase? sqlite)
        {
            Provider = provider;
            ConnectionString = connectionString;
            _postgres = postgres;
            _sqlite = sqlite;
        }

        public StorageProvider Provider { get; }

        public string ConnectionString { get; }

        public static async Task<TestStore> CreateAsync(string provider)
        {
            if (provider == "Postgres")
            {
                var database = await PostgresTestDatabase.CreateAsync();
                return new TestStore(StorageProvider.Postgres, database.ConnectionString, database, null);
            }
            var file = new SqliteTestDatabase();
            return new TestStore(StorageProvider.Sqlite, file.ConnectionString, null, file);
        }

        public async ValueTask DisposeAsync()
        {
            if (_postgres is not null)
                await _postgres.DisposeAsync();
            _sqlite?.Dispose();
        }
    }
}

using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace BatchScheduler.Tests.Coordination;

/// <summary>
/// The lease watch cancels a node's running attempts after a pause of the process longer than the failover
/// time; a database check that is merely slow is not such a pause (issue 24: at 1,000 slots on a loaded
/// machine, a slow check cancelled every running attempt).
/// </summary>
public sealed class AttemptLeaseWatchTests
{
    private const string NodeId = "lease-node";

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task SlowDatabaseCheck_LongerThanTheFailoverTime_DoesNotCancelRunningAttempts()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        await ExecuteAsync(db.ConnectionString,
            """
            CREATE TABLE work_items (data_type text, entity_id text, node_id text, fence bigint, state text,
                                     cancel_fence bigint, cancel_by text, cancel_reason text);
            INSERT INTO work_items VALUES ('x', 'running', 'lease-node', 5, 'in_flight', NULL, NULL, NULL),
                                          ('x', 'ended-a', 'lease-node', 1, 'completed', 1, 'op', 'first request');
            """);
        var running = new RunningItems();
        var claim = running.TryClaim("x", "running", CancellationToken.None)!;
        claim.Started(5);
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var connections = new ConnectionFactory(Options.Create(new StorageOptions
        {
            Provider = StorageProvider.Postgres,
            ConnectionString = db.ConnectionString,
        }), new PostgreSqlStoreDriver());
        var cluster = new ClusterOptions { CheckinInterval = TimeSpan.FromSeconds(1) }; // failover time 8.5 s
        var watch = new AttemptLeaseWatch(running, connections, Options.Create(cluster), new NodeIdentity(NodeId), clock,
            NullLogger<AttemptLeaseWatch>.Instance);

        // The database is slow: the table is locked, so the watch's check of cancel requests waits.
        await using var locker = new NpgsqlConnection(db.ConnectionString);
        await locker.OpenAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE work_items IN ACCESS EXCLUSIVE MODE", locker, lockTransaction))
            await lockTable.ExecuteNonQueryAsync();
        await watch.StartAsync(CancellationToken.None);
        try
        {
            // The watch's loops start in the background: the clock moves on until its check is under way.
            await Eventually.TrueAsync(() =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(500));
                return CheckWaitsAsync(db.ConnectionString);
            }, TimeSpan.FromSeconds(30), "the watch's check waits for the lock");
            // 12 s pass while it waits; the process itself runs all along (its timers fire on time).
            for (var i = 0; i < 24; i++)
            {
                clock.Advance(TimeSpan.FromMilliseconds(500));
                Assert.True(await CheckWaitsAsync(db.ConnectionString), "the check is still waiting for the lock");
            }
            await lockTransaction.CommitAsync();
            await Eventually.TrueAsync(() => ClearedAsync(db.ConnectionString, "ended-a"), TimeSpan.FromSeconds(30),
                "the slow check ends: the request for an attempt that has ended is cleared");

            // The watch's next round, after the slow one: a second request is cleared by it.
            await ExecuteAsync(db.ConnectionString, "INSERT INTO work_items VALUES ('x', 'ended-b', 'lease-node', 1, 'completed', 1, 'op', 'second request')");
            await Eventually.TrueAsync(async () =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(500));
                return await ClearedAsync(db.ConnectionString, "ended-b");
            }, TimeSpan.FromSeconds(30), "the watch's next round clears the second request");

            Assert.False(claim.Token.IsCancellationRequested, "a slow database check is not a pause of the node: the running attempt goes on");
            Assert.Equal(1, running.Count);
        }
        finally
        {
            await watch.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<bool> CheckWaitsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%cancel_fence IS NOT NULL%'",
            connection);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private static async Task<bool> ClearedAsync(string connectionString, string entityId)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT cancel_fence IS NULL FROM work_items WHERE entity_id = @e", connection);
        command.Parameters.AddWithValue("e", entityId);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

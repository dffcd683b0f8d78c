using BatchScheduler.Configuration;
using BatchScheduler.QuartzTables;
using BatchScheduler.Scheduling;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;
using Npgsql;
using Quartz;
using Quartz.Extensibility;

namespace BatchScheduler.Tests.Scheduling;

/// <summary>
/// The batched completion of firings on PostgreSQL deletes exactly what Quartz's own completion
/// deletes, under the same conditions, and leaves everything else to Quartz.
/// </summary>
public sealed class BatchedCompletionTests
{
    private const string DataType = "done";

    private static Dictionary<string, string?> Settings => new()
    {
        ["Cluster:Role"] = "api",
        [$"DataTypes:{DataType}:Executor"] = "noop",
    };

    [Fact]
    public async Task SpentTrigger_GoesWithItsRows_AndAReplacedOneStays()
    {
        await using var fixture = await Fixture.StartAsync("spent", "replaced");
        await fixture.FireAsync("spent", spent: true);
        await fixture.FireAsync("replaced", spent: false); // replaced while it ran: a next fire time again

        await fixture.Store.FiringComplete(fixture.Context("spent", "f-spent"));
        await fixture.Store.FiringComplete(fixture.Context("replaced", "f-replaced"));
        // Queued, not awaited: the job's slot is free at once, and the round is written behind it.
        await Eventually.TrueAsync(() => Task.FromResult(fixture.Store.Batched == 2), TimeSpan.FromSeconds(10), "both completions written in a round");

        Assert.Equal(0L, await fixture.CountAsync("qrtz_triggers", "spent"));
        Assert.Equal(0L, await fixture.CountAsync("qrtz_simple_triggers", "spent"));
        Assert.Equal(1L, await fixture.CountAsync("qrtz_triggers", "replaced"));
        Assert.Equal(1L, await fixture.CountAsync("qrtz_simple_triggers", "replaced"));
        Assert.Equal(0L, await fixture.CountAsync("qrtz_fired_triggers", null));
        Assert.Equal(2L, fixture.Store.Batched);
        await fixture.Inner.DidNotReceiveWithAnyArgs().FiringComplete(default!, default);
    }

    [Fact]
    public async Task SpentTrigger_TakesEveryFiredRowOfItsKey_AndAReplacedTriggersOtherFiringStays()
    {
        await using var fixture = await Fixture.StartAsync("spent", "replaced");
        await fixture.FireAsync("spent", spent: true);
        await fixture.FireAsync("replaced", spent: false);
        await fixture.AddFiredRowAsync("spent", "f-spent-left-over");   // Quartz's schema cascades it away with the trigger
        await fixture.AddFiredRowAsync("replaced", "f-replaced-next"); // the replacement's own firing, still running

        await fixture.Store.FiringComplete(fixture.Context("spent", "f-spent"));
        await fixture.Store.FiringComplete(fixture.Context("replaced", "f-replaced"));
        await Eventually.TrueAsync(() => Task.FromResult(fixture.Store.Batched == 2), TimeSpan.FromSeconds(10), "both completions written in a round");

        Assert.Equal(0L, await fixture.CountAsync("qrtz_fired_triggers", "spent"));
        Assert.Equal(["f-replaced-next"], await fixture.FiredEntriesAsync());
    }

    [Fact]
    public async Task SpentTriggersCompletion_LeavesTheFiredRowOfALaterFiringInProgressUnderTheSameKey()
    {
        // A set-based round deletes a one-shot trigger as it fires it: a retry under the same key, due
        // 50 ms later and already running, has a fired row and no trigger when the completion of the
        // firing before it, queued, is written.
        await using var fixture = await Fixture.StartAsync("k");
        await fixture.FireAsync("k", spent: true);
        await fixture.AddFiredRowAsync("k", "node~set~retry");
        await fixture.ExecuteAsync("DELETE FROM qrtz_simple_triggers WHERE trigger_name = 'k'; DELETE FROM qrtz_triggers WHERE trigger_name = 'k';");

        await fixture.Store.FiringComplete(fixture.Context("k", "f-k"));
        await Eventually.TrueAsync(() => Task.FromResult(fixture.Store.Batched == 1), TimeSpan.FromSeconds(10), "the completion written in a round");

        Assert.Equal(["node~set~retry"], await fixture.FiredEntriesAsync());
    }

    [Fact]
    public async Task AwaitedTrigger_IsCompletedByQuartz()
    {
        await using var fixture = await Fixture.StartAsync("parent");
        await fixture.FireAsync("parent", spent: true);
        await fixture.ExecuteAsync(
            """
            INSERT INTO qrtz_triggers (sched_name, trigger_name, trigger_group, job_name, job_group, priority, trigger_state, trigger_type,
                                       start_time, misfire_instr, continues_trigger_name, continues_trigger_group)
            SELECT sched_name, 'child', trigger_group, job_name, job_group, 5, 'AWAITING', 'SIMPLE', start_time, 0, 'parent', trigger_group
            FROM qrtz_triggers WHERE trigger_name = 'parent'
            """);
        var context = fixture.Context("parent", "f-parent");

        await fixture.Store.FiringComplete(context);
        await Eventually.TrueAsync(() => Task.FromResult(fixture.Inner.ReceivedCalls().Any()), TimeSpan.FromSeconds(10),
            "the completion handed to Quartz");

        await fixture.Inner.Received(1).FiringComplete(context, Arg.Any<CancellationToken>());
        Assert.Equal(1L, await fixture.CountAsync("qrtz_triggers", "parent"));
        Assert.Equal(0L, fixture.Store.Batched);
    }

    [Fact]
    public async Task QueuedCompletions_AreWrittenByShutdown_BeforeQuartzsStoreShutsDown()
    {
        await using var fixture = await Fixture.StartAsync("a", "b", "c");
        foreach (var entity in new[] { "a", "b", "c" })
            await fixture.FireAsync(entity, spent: true);
        foreach (var entity in new[] { "a", "b", "c" })
            await fixture.Store.FiringComplete(fixture.Context(entity, $"f-{entity}"));

        await fixture.Store.Shutdown();

        Assert.Equal(3L, fixture.Store.Batched);
        Assert.Equal(0L, await fixture.CountAsync("qrtz_fired_triggers", null));
        Assert.Equal(0L, await fixture.CountAsync("qrtz_triggers", "a") + await fixture.CountAsync("qrtz_triggers", "c"));
        await fixture.Inner.Received(1).Shutdown(Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task ARoundFailingWithAnythingButADatabaseError_FiresNothing_AndLeavesEveryRoundToQuartz()
    {
        // A job lookup that throws stands for a row the set-based round does not understand.
        await using var fixture = await Fixture.StartAsync(
            (connections, scheduler) => new SetFiringRounds(connections, scheduler, "test-node", TimeSpan.FromDays(365), TimeProvider.System,
                _ => throw new InvalidOperationException("a row this code does not understand"), _ => ValueTask.FromResult<ICalendar?>(null)),
            "due-now");
        fixture.Inner.AcquireNextTriggersAndFireDue(default!, default).ReturnsForAnyArgs(new TriggerAcquisitionResult());
        var request = new TriggerAcquisitionRequest { NoLaterThan = TimeProvider.System.GetUtcNow(), MaxCount = 8 };

        var first = await fixture.Store.AcquireNextTriggersAndFireDue(request);
        var second = await fixture.Store.AcquireNextTriggersAndFireDue(request);

        Assert.Empty(first.Due);
        Assert.Empty(second.Due);
        await fixture.Inner.Received(2).AcquireNextTriggersAndFireDue(request, Arg.Any<CancellationToken>());
        Assert.Equal(0L, fixture.Store.FiringRounds!.Fired);
        // The round rolled back: the trigger still waits, and no firing was recorded.
        Assert.Equal(0L, await fixture.CountAsync("qrtz_fired_triggers", null));
        await fixture.ExecuteAsync("DO $$ BEGIN IF (SELECT trigger_state FROM qrtz_triggers WHERE trigger_name = 'due-now') <> 'WAITING' THEN RAISE EXCEPTION 'not waiting'; END IF; END $$");
    }

    [Fact]
    public void OrdinaryCompletion_IsBatched() => Assert.True(BatchedCompletionJobStore.Batchable(Completion("ordinary")));

    [Theory]
    [InlineData("buffer-one")]
    [InlineData("concurrency")]
    [InlineData("error")]
    [InlineData("cancelled")]
    public void CompletionsQuartzTakesItsLockFor_AreNotBatched(string kind) =>
        Assert.False(BatchedCompletionJobStore.Batchable(Completion(kind)));

    private static TriggeredJobCompleteContext Completion(string kind)
    {
        var trigger = (IOperableTrigger)TriggerBuilder.Create().WithIdentity("t", DataType).ForJob("j", "g").StartNow()
            .WithOverlapPolicy(kind == "buffer-one" ? OverlapPolicy.BufferOne : OverlapPolicy.Default).Build();
        trigger.FireInstanceId = "f";
        return new TriggeredJobCompleteContext
        {
            Trigger = trigger,
            JobDetail = JobBuilder.Create<BatchScheduler.Coordination.CoordinatorJob>().WithIdentity("j", "g").StoreDurably()
                .DisallowConcurrentExecution(kind == "concurrency").Build(),
            Instruction = kind == "error" ? SchedulerInstruction.SetTriggerError : SchedulerInstruction.DeleteTrigger,
            Outcome = kind == "cancelled" ? ExecutionOutcome.Cancelled : ExecutionOutcome.Succeeded,
        };
    }

    /// <summary>A node on a fresh database (for its schema and durable job), items with their triggers, and a decorator over a substitute.</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly PostgresTestDatabase _database;
        private readonly TestNode _node;

        private Fixture(PostgresTestDatabase database, TestNode node, Func<ConnectionFactory, string, SetFiringRounds>? rounds)
        {
            _database = database;
            _node = node;
            var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
            var scheduler = node.App.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.SchedulerName;
            Store = new BatchedCompletionJobStore(Inner, connections, scheduler, NullLogger<BatchedCompletionJobStore>.Instance,
                rounds is null ? null : _ => rounds(connections, scheduler));
        }

        public IJobStore Inner { get; } = Substitute.For<IJobStore>();

        public BatchedCompletionJobStore Store { get; }

        public static Task<Fixture> StartAsync(params string[] entities) => StartAsync(null, entities);

        public static async Task<Fixture> StartAsync(Func<ConnectionFactory, string, SetFiringRounds>? rounds, params string[] entities)
        {
            var database = await PostgresTestDatabase.CreateAsync();
            var node = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString, Settings);
            Assert.True(node.App.Services.GetRequiredService<DataTypeCatalog>().TryGet(DataType, out var dataType));
            await node.App.Services.GetRequiredService<WorkItemService>().RegisterAsync(dataType,
                entities.Select(e => new WorkItemRegistration(e, null, null)).ToList(), CancellationToken.None);
            return new Fixture(database, node, rounds);
        }

        /// <summary>What Quartz's fire of a one-shot trigger leaves: the trigger COMPLETE with no next fire time (or, replaced, due again) and a fired row.</summary>
        public Task FireAsync(string entity, bool spent) => ExecuteAsync(
            $"""
            UPDATE qrtz_triggers SET trigger_state = '{(spent ? "COMPLETE" : "WAITING")}', next_fire_time = {(spent ? "NULL" : "next_fire_time + 1")}
            WHERE trigger_name = '{entity}';
            INSERT INTO qrtz_fired_triggers (sched_name, entry_id, trigger_name, trigger_group, instance_name, fired_time, sched_time, priority, state,
                                             job_name, job_group, is_nonconcurrent, requests_recovery)
            SELECT sched_name, 'f-{entity}', trigger_name, trigger_group, 'node', 0, 0, 5, 'EXECUTING', job_name, job_group, false, true
            FROM qrtz_triggers WHERE trigger_name = '{entity}';
            """);

        /// <summary>Another fired row under the entity's trigger key (a firing other than the one completed).</summary>
        public Task AddFiredRowAsync(string entity, string entryId) => ExecuteAsync(
            $"""
            INSERT INTO qrtz_fired_triggers (sched_name, entry_id, trigger_name, trigger_group, instance_name, fired_time, sched_time, priority, state,
                                             job_name, job_group, is_nonconcurrent, requests_recovery)
            SELECT sched_name, '{entryId}', trigger_name, trigger_group, 'other-node', 0, 0, 5, 'EXECUTING', job_name, job_group, false, true
            FROM qrtz_triggers WHERE trigger_name = '{entity}';
            """);

        public async Task<List<string>> FiredEntriesAsync()
        {
            await using var connection = new NpgsqlConnection(_database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT entry_id FROM qrtz_fired_triggers ORDER BY entry_id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            var entries = new List<string>();
            while (await reader.ReadAsync())
                entries.Add(reader.GetString(0));
            return entries;
        }

        public TriggeredJobCompleteContext Context(string entity, string fireInstanceId)
        {
            var trigger = (IOperableTrigger)TriggerBuilder.Create().WithIdentity(entity, DataType).ForJob(WorkItemKeys.Job(DataType)).StartNow().Build();
            trigger.FireInstanceId = fireInstanceId;
            return new TriggeredJobCompleteContext
            {
                Trigger = trigger, // no next fire time: a spent one-shot, as the firing saw it
                JobDetail = WorkItemScheduler.JobFor(DataType),
                Instruction = SchedulerInstruction.DeleteTrigger,
                Outcome = ExecutionOutcome.Succeeded,
            };
        }

        public async Task ExecuteAsync(string sql)
        {
            await using var connection = new NpgsqlConnection(_database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        public async Task<long> CountAsync(string table, string? entity)
        {
            await using var connection = new NpgsqlConnection(_database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"SELECT count(*) FROM {table}" + (entity is null ? "" : " WHERE trigger_name = @e"), connection);
            command.Parameters.AddWithValue("e", entity ?? "");
            return (long)(await command.ExecuteScalarAsync())!;
        }

        public async ValueTask DisposeAsync()
        {
            await Store.Shutdown();
            await _node.DisposeAsync();
            await _database.DisposeAsync();
        }
    }
}
